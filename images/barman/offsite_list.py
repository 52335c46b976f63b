#!/usr/bin/env python3
"""montagu-offsite-barman-list ARGS: barman-cloud-backup-list ARGS, whose JSON gives each
backup's begin_time_iso and end_time_iso as well: the time with its zone.

barman-cloud-backup-list 3.4 prints begin_time and end_time with ctime(): the wall clock in the
zone PostgreSQL reported the time in (barman stores CURRENT_TIMESTAMP of its own session, whose
zone is the server's `timezone`), with that zone dropped, so the same backup reads an hour
apart from a server in London in summer and one in UTC, whatever TZ this process has. The
backup.info in the bucket keeps the offset; this adds it, under the names later barman prints
itself. A time stored without a zone (barman then takes this process's zone: a guess) gets no
_iso field, so that montagu-backup refuses it rather than guess too.
"""
import sys

from dateutil.tz import tzlocal


def with_zones(data, info):
    """barman's to_json() `data` of BackupInfo `info`, with the _iso times that are known."""
    for field in ("begin_time", "end_time"):
        value = getattr(info, field, None)
        data.pop(f"{field}_iso", None)
        if value is not None and value.tzinfo is not None and not isinstance(value.tzinfo, tzlocal):
            data[f"{field}_iso"] = value.isoformat()
    return data


def main():
    from barman.clients import cloud_backup_list
    from barman.infofile import BackupInfo

    to_json = BackupInfo.to_json
    BackupInfo.to_json = lambda self: with_zones(to_json(self), self)
    # barman's own listing otherwise: its arguments, connection checks, errors and exit codes.
    return cloud_backup_list.main()


if __name__ == "__main__":
    sys.exit(main())
