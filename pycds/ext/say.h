/*
 * say.h - pycds's explanations (PYCDSVERBOSE), written where a program
 * never captures them.
 */
#ifndef PYCDS_SAY_H
#define PYCDS_SAY_H

/*
 * One line, formatted as PyUnicode_FromFormat formats (%U, %s, %lu...),
 * written whole to file descriptor 2: not through sys.stderr, which a
 * program may have redirected (contextlib.redirect_stderr, click's
 * CliRunner) and would then find pycds's lines in its own output.  Never
 * raises; a line that cannot be formatted or written is dropped.
 */
void pycds_say(const char *format, ...);

#endif /* PYCDS_SAY_H */
