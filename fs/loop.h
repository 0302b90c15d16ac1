/*
 * loop.h - the daemon's worker threads (fs/loop.c).
 */
#ifndef COWFS_LOOP_H
#define COWFS_LOOP_H

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 314
#endif
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <fuse_lowlevel.h>

struct loop_options {
	unsigned max_threads;	/* 1: serve in the calling thread only */
	unsigned max_idle;	/* idle threads kept; UINT_MAX: all */
	bool splice;		/* receive large writes by splice */
};

/*
 * Serves @se until it is unmounted or fuse_session_exit() is called (the
 * signal handlers do). Returns 0, or -errno if receiving failed.
 */
int loop_run(struct fuse_session *se, const struct loop_options *o);

/*
 * Takes over the session's writes to /dev/fuse (after fuse_session_mount)
 * for loop_init_flags().
 */
int loop_take_io(struct fuse_session *se);

/*
 * From the init callback: FUSE_* INIT flags that libfuse does not know to
 * add to the answer; returns those of @want that the kernel offered.
 */
uint32_t loop_init_flags(uint32_t want);
/* FUSE_HANDLE_KILLPRIV_V2 of <linux/fuse.h> (protocol 7.33) */
#define LOOP_INIT_KILLPRIV_V2 (1u << 28)

/*
 * Whether the WRITE, OPEN or CREATE this thread serves carries the
 * kernel's FUSE_WRITE_KILL_SUIDGID or FUSE_OPEN_KILL_SUIDGID (the caller
 * lacks CAP_FSETID: the request is to clear setuid, and setgid of a
 * group-executable file).
 */
bool loop_kill_suidgid(void);

/*
 * Blocks the signals that end the daemon in the calling thread; returns
 * the mask to restore. Threads created meanwhile leave the signals to the
 * thread that waits for the loop's end.
 */
void loop_block_signals(sigset_t *old);

#endif
