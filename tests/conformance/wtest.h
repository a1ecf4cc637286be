/* Minimal conformance-test harness in the style of Wine's tests (ok / skip / trace), for Windows
 * programs that use only the public headers and <windows.h>, so that the same source runs
 * against the real Windows DLLs and against ours under Wine.
 *
 *   ok(cond, "format", ...)   one check; on failure prints "file:line: Test failed: ..."
 *   skip("format", ...)       a check that cannot run here (counted, never silent)
 *   trace("format", ...)      a note
 *   wt_summary("name")        prints "name: N passed, N failed, N skipped" and returns the exit code
 */
#ifndef PD_WTEST_H
#define PD_WTEST_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int wt_passed, wt_failed, wt_skipped;

static inline void wt_vreport(const char *file, int line, const char *kind, const char *fmt, va_list ap)
{
    const char *base = file;
    const char *p;
    for (p = file; *p; p++)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    printf("%s:%d: %s", base, line, kind);
    vprintf(fmt, ap);
    if (*fmt && fmt[0] && fmt[strlen(fmt) - 1] != '\n')
        printf("\n");
    fflush(stdout);
}

static inline int wt_ok(const char *file, int line, int condition, const char *fmt, ...)
{
    va_list ap;
    if (condition) {
        wt_passed++;
        return 1;
    }
    wt_failed++;
    va_start(ap, fmt);
    wt_vreport(file, line, "Test failed: ", fmt, ap);
    va_end(ap);
    return 0;
}

static inline void wt_note(const char *file, int line, int is_skip, const char *fmt, ...)
{
    va_list ap;
    if (is_skip)
        wt_skipped++;
    va_start(ap, fmt);
    wt_vreport(file, line, is_skip ? "Tests skipped: " : "", fmt, ap);
    va_end(ap);
}

static inline int wt_summary(const char *name)
{
    printf("%s: %d passed, %d failed, %d skipped\n", name, wt_passed, wt_failed, wt_skipped);
    fflush(stdout);
    return wt_failed ? 1 : 0;
}

#define ok(cond, ...) wt_ok(__FILE__, __LINE__, (cond) ? 1 : 0, __VA_ARGS__)
#define skip(...)     wt_note(__FILE__, __LINE__, 1, __VA_ARGS__)
#define trace(...)    wt_note(__FILE__, __LINE__, 0, __VA_ARGS__)

#endif /* PD_WTEST_H */
