#!/usr/bin/env python3
"""montagu-offsite-barman-list ARGS: barman-cloud-backup-list ARGS, whose JSON gives each
backup's begin_time_iso and end_time_iso as well: the time with its zone.

barman-cloud-backup-list 3.4 prints begin_time and end_time with ctime(): the wall clock in the
zone PostgreSQL reported the time in (barman stores CURRENT_TIMESTAMP of its own session, whose
zone is the server's `timezone`), with that zone dropped, so the same backup reads an hour
apart from a server in London in summer and one in UTC, whatever TZ this process has. The
backup.info in the bucket keeps the offset; this adds it, under the names later barman prints
itself. A time stored without a zone gets no _iso field, so that montagu-backup refuses it
rather than guess.

The times are read from backup.info as written (str() of a datetime), not with barman's
loader: dateutil gives `+00:00` this process's local zone when that is UTC, the same as it gives
a time with no zone at all, so the two could not be told apart afterwards.
"""
import datetime
import sys

TIMES = ("begin_time", "end_time")


def backup_info_time(text):
    """A time as backup.info has it, with its offset if it has one, naive if not."""
    return datetime.datetime.fromisoformat(text)


def with_zones(data, info):
    """barman's to_json() `data` of BackupInfo `info`, with the _iso times that are known."""
    for field in TIMES:
        value = getattr(info, field, None)
        data.pop(f"{field}_iso", None)
        if value is not None and value.tzinfo is not None:
            data[f"{field}_iso"] = value.isoformat()
    return data


def main():
    from barman.clients import cloud_backup_list
    from barman.infofile import BackupInfo

    for field in TIMES:
        # A bad time fails the listing (barman's exit 4) rather than being guessed at.
        getattr(BackupInfo, field).from_str = backup_info_time
    to_json = BackupInfo.to_json
    BackupInfo.to_json = lambda self: with_zones(to_json(self), self)
    # barman's own listing otherwise: its arguments, connection checks, errors and exit codes.
    return cloud_backup_list.main()


if __name__ == "__main__":
    sys.exit(main())
