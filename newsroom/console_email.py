"""The email backend of DEBUG: the console, written the way a person reads it."""

from django.core.mail.backends.console import EmailBackend as ConsoleBackend


class ReadableConsoleBackend(ConsoleBackend):
    """Django's console backend prints the raw MIME message, in which
    quoted-printable splits long lines with "=" and writes "=" itself as "=3D",
    so a link copied from it is broken. This one prints the headers and each text
    part decoded: links copy and open as they would from a mail program."""

    def write_message(self, message):
        mime = message.message()
        for name, value in mime.items():
            self.stream.write(f"{name}: {value}\n")
        for part in mime.walk():
            if part.get_content_maintype() == "text" and not part.is_attachment():
                self.stream.write(f"\n[{part.get_content_type()}]\n")
                self.stream.write(part.get_content().rstrip("\n") + "\n")
            elif part.is_attachment():
                self.stream.write(f"\n[attachment: {part.get_filename()}]\n")
        self.stream.write("-" * 79 + "\n")
