// A mail's subject as it is sent: one line, or no Subject header at all. Used by every path
// that writes a subject (composeMail, the bulk fast path, both charsets) and by the web UI's
// bulk delivery preview, so that the preview shows what goes out. No Node.js imports: the
// browser bundle takes this file too.

/**
 * The subject as the one line a header holds: a line break (CRLF, CR or LF) and every other
 * control character but tab become a space. A vertical tab or form feed comes with text pasted
 * from word processors; any other control character no reader can show, and nodemailer would
 * write it into the header raw.
 */
export function subjectLine(subject: string): string {
  return subject.replace(/\r\n|[\u0000-\u0008\u000a-\u001f\u007f]/g, ' ');
}

/**
 * A subject left out of the mail: nothing but spaces and tabs (subjectLine has made every
 * other control character a space by then). nodemailer drops such a header on the UTF-8
 * path, and every path does the same; any other character, a no-break or ideographic space
 * too, is written (encoded if need be).
 */
export function isBlankSubject(subject: string): boolean {
  return /^[ \t]*$/.test(subject);
}
