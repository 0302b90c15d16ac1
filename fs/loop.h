/*
 * loop.h - the daemon's worker threads (fs/loop.c).
 */
#ifndef COWFS_LOOP_H
#define COWFS_LOOP_H

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 314
#endif
#include <stdbool.h>
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
 * Blocks the signals that end the daemon in the calling thread; returns
 * the mask to restore. Threads created meanwhile leave the signals to the
 * thread that waits for the loop's end.
 */
void loop_block_signals(sigset_t *old);

#endif
