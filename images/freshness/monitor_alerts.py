"""The messages a backup's changes call for, and their sending by email."""
import email.message
import email.utils
import smtplib
import ssl
import sys

from monitor_state import save_memory
from monitor_times import describe_age, iso

SMTP_PASSWORD = "/run/montagu/secrets/smtp-password"


def message(config, backup, change, success, age, now):
    last = "never" if success is None else f"{iso(success)} ({describe_age(age)} ago)"
    subject = f"[{config['name']}] {change}: {backup['id']}"
    if change == "STALE":
        opening = f"{backup['description']} is late: no success for more than {describe_age(backup['staleAfterSeconds'])}."
    else:
        opening = f"{backup['description']} has succeeded again."
    lines = [
        opening,
        "",
        f"backup:        {backup['id']}",
        f"on:            {config['name']}",
        f"last success:  {last}",
        f"late after:    {describe_age(backup['staleAfterSeconds'])}" + (f" (schedule {backup['schedule']})" if backup.get("schedule") else ""),
        f"checked at:    {iso(now)}",
    ]
    return {"subject": subject, "body": "\n".join(lines) + "\n", "at": now}


def send_outbox(config, memory):
    """Sends what is waiting, oldest first; what fails stays for the next check."""
    settings = config.get("email")
    if settings is None:
        memory["outbox"] = []
        return None
    while memory["outbox"]:
        pending = memory["outbox"][0]
        mail = email.message.EmailMessage()
        mail["From"] = settings["from"]
        mail["To"] = ", ".join(settings["to"])
        mail["Subject"] = pending["subject"]
        mail["Date"] = email.utils.formatdate(pending["at"])
        mail["Message-ID"] = email.utils.make_msgid(domain="montagu-freshness")
        mail.set_content(pending["body"])
        try:
            with smtplib.SMTP(settings["host"], settings["port"], timeout=30) as smtp:
                if settings.get("starttls"):
                    # The default context checks the server's certificate and name: without
                    # it, STARTTLS would hand the password to whoever answers.
                    smtp.starttls(context=ssl.create_default_context())
                if settings.get("username"):
                    with open(SMTP_PASSWORD, encoding="utf-8") as handle:
                        smtp.login(settings["username"], handle.read().strip())
                smtp.send_message(mail)
        except (OSError, smtplib.SMTPException) as problem:
            print(f"montagu-freshness: cannot send '{pending['subject']}' yet: {problem}", file=sys.stderr, flush=True)
            return str(problem)
        print(f"montagu-freshness: sent '{pending['subject']}'", flush=True)
        memory["outbox"].pop(0)
        save_memory(memory)
    return None
