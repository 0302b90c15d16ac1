/*
 * util.c - logging and small helpers shared by every cowfs program.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "fs/util.h"

const char *util_progname = "cowfs";
bool util_debug;
static bool use_syslog;

/* Lines held back by log_hold(): the first one is kept. */
static pthread_mutex_t hold_lock = PTHREAD_MUTEX_INITIALIZER;
static bool holding;
static char held[1024];
static char *held_all;
static size_t held_len;

static void vlog(int prio, const char *fmt, va_list ap)
{
	char line[1024];

	vsnprintf(line, sizeof(line), fmt, ap);
	pthread_mutex_lock(&hold_lock);
	if (holding) {
		size_t n = strlen(line);
		char *p = realloc(held_all, held_len + n + 2);

		if (!held[0])
			snprintf(held, sizeof(held), "%s", line);
		if (p) {
			memcpy(p + held_len, line, n);
			p[held_len + n] = '\n';
			held_len += n + 1;
			p[held_len] = '\0';
			held_all = p;
		}
		pthread_mutex_unlock(&hold_lock);
		return;
	}
	pthread_mutex_unlock(&hold_lock);
	if (use_syslog)
		syslog(prio, "%s", line);
	else
		fprintf(stderr, "%s: %s\n", util_progname, line);
}

void log_msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, fmt, ap);
	va_end(ap);
}

void log_debug_msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

void log_hold(void)
{
	pthread_mutex_lock(&hold_lock);
	holding = true;
	held[0] = '\0';
	pthread_mutex_unlock(&hold_lock);
}

void log_release(bool print, char *first, size_t firstlen)
{
	char *all;

	pthread_mutex_lock(&hold_lock);
	holding = false;
	all = held_all;
	held_all = NULL;
	held_len = 0;
	if (first)
		snprintf(first, firstlen, "%s", held);
	held[0] = '\0';
	pthread_mutex_unlock(&hold_lock);
	for (char *line = all, *nl; print && line && *line; line = nl + 1) {
		nl = strchr(line, '\n');
		*nl = '\0';
		log_msg("%s", line);
	}
	free(all);
}

void log_to_syslog(void)
{
	openlog(util_progname, LOG_PID, LOG_DAEMON);
	use_syslog = true;
}

int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t now_ns(void)
{
	struct timespec ts;

	/*
	 * The kernel's clock for file times (current_time() on a FUSE
	 * mount), which it also uses for the times it sends with the
	 * writeback cache: a time of ours must not run ahead of the kernel's
	 * later ones, or a file's atime set at create would stay after the
	 * mtime of its first write and relatime would never update it
	 * (xfstests generic/192).
	 */
	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	return ts_to_ns(&ts);
}

void *grow_array(void *arr, size_t *cap, size_t n, size_t size)
{
	size_t c = *cap ? *cap * 2 : 16;
	void *p;

	if (n < *cap)
		return arr;
	p = realloc(arr, c * size);
	if (p)
		*cap = c;
	return p;
}

int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K':
		v <<= 10, end++;
		break;
	case 'm': case 'M':
		v <<= 20, end++;
		break;
	case 'g': case 'G':
		v <<= 30, end++;
		break;
	}
	if (*end == 'i' && end[1] == 'B')
		end += 2;
	else if (*end == 'B')
		end++;
	if (*end)
		return -EINVAL;
	*out = v;
	return 0;
}

int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}
