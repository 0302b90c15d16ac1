/*
 * util.h - logging and small helpers shared by every cowfs program.
 *
 * Logging is one line per event, prefixed with the program name:
 *	cowfs: open store "/x": no such file or directory
 * log_debug() prints only when debugging was asked for (-d, -o debug).
 */
#ifndef COWFS_UTIL_H
#define COWFS_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define STR_(x) #x
#define STR(x) STR_(x)
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

extern const char *util_progname;
extern bool util_debug;

void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define log_debug(...)                                                         \
	do {                                                                   \
		if (util_debug)                                                \
			log_debug_msg(__VA_ARGS__);                           \
	} while (0)

/*
 * Holds log lines back (while a store is opened, so that a refusal is one
 * line). log_release() prints them if @print, and copies the first one to
 * @first (empty if none; @first may be NULL).
 */
void log_hold(void);
void log_release(bool print, char *first, size_t firstlen);

/* Sends subsequent log lines to syslog instead of stderr (daemon mode). */
void log_to_syslog(void);

/* Current time for file times, in ns since the epoch (CLOCK_REALTIME_COARSE). */
int64_t now_ns(void);
/* CLOCK_MONOTONIC in nanoseconds: for intervals. */
int64_t mono_ns(void);

static inline struct timespec ns_to_ts(int64_t ns)
{
	struct timespec ts;

	ts.tv_sec = ns / 1000000000;
	ts.tv_nsec = ns % 1000000000;
	if (ts.tv_nsec < 0) {
		ts.tv_nsec += 1000000000;
		ts.tv_sec--;
	}
	return ts;
}

static inline int64_t ts_to_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

/*
 * Makes room for one more element in a growing array of @n elements of
 * @size bytes with room for *@cap: doubles it (from 16) when full. Returns
 * the array, moved or not, or NULL (the old array still valid) if out of
 * memory.
 */
void *grow_array(void *arr, size_t *cap, size_t n, size_t size);

/*
 * Parses a size such as "65536", "64k", "64K", "1M". Returns 0 and stores the
 * value, or -EINVAL.
 */
int parse_size(const char *s, uint64_t *out);

/* qsort() comparison of two uint64_t. */
int cmp_u64(const void *a, const void *b);

#endif
