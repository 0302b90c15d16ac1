/*
 * loop.c - the daemon's worker threads: they receive requests from
 * /dev/fuse and hand them to libfuse's dispatcher.
 *
 * Only a WRITE carries data worth splicing; every other request is a few
 * dozen bytes. libfuse's own loop receives them all alike: with splice on,
 * splice() into a pipe then read() out of it (two system calls and a page
 * allocated in the pipe, for a GETATTR as for a 1 MiB WRITE); with splice
 * off, read() into memory, which copies written data. What comes next is
 * not known before it is received, so this loop goes by the recent past:
 * the threads receive by splice for SPLICE_HOLD after each WRITE of
 * SPLICE_MIN bytes or more, and by read() otherwise. A writer keeps the
 * data path on splice, whatever small requests come between its writes (a
 * writer of 64 KiB blocks sends a GETXATTR per write); metadata work and
 * small random writes take one read() per request. The large WRITE that
 * switches to splice (and one per thread already waiting in read() then)
 * is copied; `cowctl stat` counts those bytes as copied. A count of small
 * requests in a row would not do: those GETXATTRs end any streak.
 *
 * The loop also writes every answer (libfuse's custom I/O), for one
 * reason: libfuse 3.14 cannot ask for FUSE_HANDLE_KILLPRIV_V2 at INIT, so
 * the answer to INIT gets the flags loop_init_flags() was given, and the
 * flags of the request being served that libfuse does not pass on (the
 * kernel's "kill suid/sgid" on WRITE and OPEN) are kept for
 * loop_kill_suidgid().
 *
 * Threads are added while requests find none idle, up to max_threads, and
 * an idle thread beyond max_idle ends, as in libfuse's loop. The signals
 * that end the daemon are blocked in every thread but the one in
 * loop_run(), which wakes from its wait, sees the session ended and
 * cancels the workers (only while they wait for a request).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/fuse.h>

#include "fs/loop.h"
#include "fs/util.h"

/* A write payload from which splice beats a copy. */
#define SPLICE_MIN (64u << 10)
/* How long after a large WRITE the threads receive by splice. */
#define SPLICE_HOLD_NS 1000000000ll
/* Room for the largest request: max_write (< 1 MiB) and its headers. */
#define REQ_MAX (1u << 20)
#define BUF_SIZE (REQ_MAX + 4096)
#define WRITE_HDR (sizeof(struct fuse_in_header) + sizeof(struct fuse_write_in))

struct loop;

struct worker {
	struct loop *loop;
	pthread_t thread;
	struct worker *next, **pprev;	/* loop->lock */
	char *mem;			/* BUF_SIZE */
	int pipe[2];			/* -1: receive by read() only */
	int peek[2];			/* a request's headers, by tee() */
};

struct loop {
	struct fuse_session *se;
	int fd;
	bool splice;
	int64_t splice_until;	/* atomic: receive by splice until (ns) */
	pthread_mutex_t lock;
	struct worker *workers;	/* lock */
	unsigned nworkers;	/* lock */
	unsigned navail;	/* lock: waiting for a request */
	unsigned max_threads, max_idle;
	bool stopping;		/* lock: loop_run is ending the workers */
	int error;		/* lock: first receive error */
	sem_t finish;
};

static const int exit_signals[] = { SIGHUP, SIGINT, SIGTERM };

/* The answer to INIT gets what loop_init_flags() asked for. */
static struct {
	uint64_t unique;	/* of the INIT request until answered, or 0 */
	uint32_t offered;	/* the kernel's INIT flags */
	uint32_t extra;		/* flags to add to the answer */
} init_hook;

/* The request this thread serves asks to kill suid/sgid. */
static __thread bool kill_suidgid;

uint32_t loop_init_flags(uint32_t want)
{
	init_hook.extra = want & init_hook.offered;
	return init_hook.extra;
}

bool loop_kill_suidgid(void)
{
	return kill_suidgid;
}

static ssize_t io_writev(int fd, struct iovec *iov, int count, void *ud)
{
	const struct fuse_out_header *out = iov[0].iov_base;
	uint32_t copy[64];
	struct fuse_init_out *init = (void *)copy;

	(void)ud;
	if (init_hook.unique && count == 2 &&
	    iov[0].iov_len == sizeof(*out) && out->unique == init_hook.unique) {
		init_hook.unique = 0;
		if (out->error == 0 && iov[1].iov_len <= sizeof(copy) &&
		    iov[1].iov_len >= offsetof(struct fuse_init_out, flags) +
					      sizeof(init->flags)) {
			memcpy(copy, iov[1].iov_base, iov[1].iov_len);
			init->flags |= init_hook.extra;
			iov[1].iov_base = copy;
		}
	}
	return writev(fd, iov, count);
}

static ssize_t io_read(int fd, void *buf, size_t len, void *ud)
{
	(void)ud;
	return read(fd, buf, len);
}

static ssize_t io_splice(int fdin, off_t *offin, int fdout, off_t *offout,
			 size_t len, unsigned int flags, void *ud)
{
	(void)ud;
	return splice(fdin, offin, fdout, offout, len, flags);
}

int loop_take_io(struct fuse_session *se)
{
	static const struct fuse_custom_io io = {
		.writev = io_writev,
		.read = io_read,
		.splice_receive = io_splice,
		.splice_send = io_splice,
	};

	return fuse_session_custom_io(se, &io, fuse_session_fd(se));
}

/*
 * Notes what libfuse does not pass on of the request in @p (@n bytes:
 * its headers at least): INIT's flags, the kill flags of WRITE, OPEN and
 * CREATE.
 */
static void note_request(const void *p, size_t n)
{
	const struct fuse_in_header *in = p;
	const void *arg = in + 1;

	kill_suidgid = false;
	switch (in->opcode) {
	case FUSE_INIT:
		if (n >= sizeof(*in) + offsetof(struct fuse_init_in, flags) +
				 sizeof(uint32_t)) {
			init_hook.offered =
				((const struct fuse_init_in *)arg)->flags;
			init_hook.unique = in->unique;
		}
		break;
	case FUSE_WRITE:
		if (n >= WRITE_HDR)
			kill_suidgid =
				((const struct fuse_write_in *)arg)->write_flags &
				FUSE_WRITE_KILL_SUIDGID;
		break;
	case FUSE_OPEN:
		if (n >= sizeof(*in) + sizeof(struct fuse_open_in))
			kill_suidgid =
				((const struct fuse_open_in *)arg)->open_flags &
				FUSE_OPEN_KILL_SUIDGID;
		break;
	case FUSE_CREATE:
		if (n >= sizeof(*in) + sizeof(struct fuse_create_in))
			kill_suidgid =
				((const struct fuse_create_in *)arg)->open_flags &
				FUSE_OPEN_KILL_SUIDGID;
		break;
	}
}

static void close_pair(int fd[2]);

/*
 * Notes the headers of a request left in the pipe, read through a tee:
 * 0, or -errno with nothing noted.
 */
static int note_piped(struct worker *w)
{
	char hdr[WRITE_HDR];
	int rc = 0;

	if (w->peek[0] < 0 && pipe2(w->peek, O_CLOEXEC) < 0) {
		w->peek[0] = w->peek[1] = -1;
		return -errno;
	}
	if (tee(w->pipe[0], w->peek[1], sizeof(hdr), 0) != sizeof(hdr) ||
	    read(w->peek[0], hdr, sizeof(hdr)) != sizeof(hdr))
		rc = errno ? -errno : -EIO;
	if (rc) {
		close_pair(w->peek); /* nothing half read is left behind */
		return rc;
	}
	note_request(hdr, sizeof(hdr));
	return 0;
}

void loop_block_signals(sigset_t *old)
{
	sigset_t set;

	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(exit_signals) / sizeof(exit_signals[0]);
	     i++)
		sigaddset(&set, exit_signals[i]);
	pthread_sigmask(SIG_BLOCK, &set, old);
}

static void close_pair(int fd[2])
{
	if (fd[0] >= 0) {
		close(fd[0]);
		close(fd[1]);
	}
	fd[0] = fd[1] = -1;
}

static void pipe_close(struct worker *w)
{
	close_pair(w->pipe);
	close_pair(w->peek);
}

/* A pipe that holds the largest request, or none (read() only). */
static void pipe_open(struct worker *w)
{
	w->pipe[0] = w->pipe[1] = w->peek[0] = w->peek[1] = -1;
	if (!w->loop->splice || pipe2(w->pipe, O_CLOEXEC) < 0)
		return;
	if (fcntl(w->pipe[0], F_SETPIPE_SZ, REQ_MAX) < (int)REQ_MAX) {
		log_debug("no pipe of %u bytes (%s): requests are read",
			  REQ_MAX, strerror(errno));
		pipe_close(w);
	}
}

static void worker_free(struct worker *w)
{
	pipe_close(w);
	free(w->mem);
	free(w);
}

static void *worker_main(void *arg);

/* Starts a worker (loop->lock held, or before any runs). */
static int worker_start(struct loop *l)
{
	struct worker *w = calloc(1, sizeof(*w));
	int rc;

	if (!w)
		return -ENOMEM;
	w->loop = l;
	w->mem = malloc(BUF_SIZE);
	if (!w->mem) {
		free(w);
		return -ENOMEM;
	}
	pipe_open(w);
	rc = -pthread_create(&w->thread, NULL, worker_main, w);
	if (rc) {
		worker_free(w);
		return rc;
	}
	w->next = l->workers;
	if (w->next)
		w->next->pprev = &w->next;
	w->pprev = &l->workers;
	l->workers = w;
	l->nworkers++;
	return 0;
}

static void worker_unlink(struct loop *l, struct worker *w)
{
	*w->pprev = w->next;
	if (w->next)
		w->next->pprev = w->pprev;
	l->nworkers--;
}

static int64_t now_coarse_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Splice until SPLICE_HOLD after @now (stored only when that moves). */
static void splice_hold(struct loop *l, int64_t now)
{
	if (__atomic_load_n(&l->splice_until, __ATOMIC_RELAXED) !=
	    now + SPLICE_HOLD_NS)
		__atomic_store_n(&l->splice_until, now + SPLICE_HOLD_NS,
				 __ATOMIC_RELAXED);
}

/*
 * Receives one request into @buf: its size, 0 when the filesystem is
 * unmounted, -EINTR to try again, or -errno.
 */
static ssize_t receive(struct worker *w, struct fuse_buf *buf)
{
	struct loop *l = w->loop;
	const struct fuse_in_header *in = (const void *)w->mem;
	int64_t now = now_coarse_ns();
	bool spliced = w->pipe[0] >= 0 &&
		       now < __atomic_load_n(&l->splice_until, __ATOMIC_RELAXED);
	ssize_t n;

	/* Cancelled by loop_run() only while waiting here. */
	pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
	if (spliced)
		n = splice(l->fd, NULL, w->pipe[1], NULL, BUF_SIZE, 0);
	else
		n = read(l->fd, w->mem, BUF_SIZE);
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	if (n < 0) {
		int e = errno;

		/* ENOENT: the request was interrupted before we got it. */
		if (e == EINTR || e == EAGAIN || e == ENOENT)
			return -EINTR;
		return e == ENODEV ? 0 : -e;
	}
	if ((size_t)n < sizeof(struct fuse_in_header)) {
		log_msg("short request from the kernel (%zd bytes)", n);
		return -EIO;
	}
	if (spliced && (size_t)n >= WRITE_HDR + SPLICE_MIN) {
		int rc = note_piped(w);

		splice_hold(l, now);
		if (rc == 0) {
			/* Left in the pipe: libfuse reads the headers, we
			 * the data. */
			*buf = (struct fuse_buf){ .size = (size_t)n,
						  .flags = FUSE_BUF_IS_FD,
						  .fd = w->pipe[0] };
			return n;
		}
		/* Its headers unseen: it is read out as a small one is. */
		log_debug("cannot read a request's headers: %s",
			  strerror(-rc));
	}
	if (spliced && read(w->pipe[0], w->mem, (size_t)n) != n) {
		log_msg("cannot read a request from its pipe: %s",
			strerror(errno));
		pipe_close(w);
		return -EIO;
	}
	*buf = (struct fuse_buf){ .size = (size_t)n, .mem = w->mem };
	note_request(w->mem, (size_t)n);
	if (in->opcode == FUSE_WRITE && (size_t)n >= WRITE_HDR + SPLICE_MIN)
		splice_hold(l, now);
	return n;
}

/*
 * After a request left in the pipe: libfuse does not drain our pipe when
 * the request failed before its data was taken, so a pipe not empty is
 * replaced rather than handing its rest to the next request.
 */
static void pipe_check(struct worker *w)
{
	int left = 0;

	if (ioctl(w->pipe[0], FIONREAD, &left) < 0 || left != 0) {
		pipe_close(w);
		pipe_open(w);
	}
}

static bool is_forget(const struct fuse_buf *buf)
{
	const struct fuse_in_header *in = buf->mem;

	return !(buf->flags & FUSE_BUF_IS_FD) &&
	       (in->opcode == FUSE_FORGET || in->opcode == FUSE_BATCH_FORGET);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct loop *l = w->loop;
	struct fuse_buf buf;
	ssize_t n;

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	while (!fuse_session_exited(l->se)) {
		bool forget;

		n = receive(w, &buf);
		if (n == -EINTR)
			continue;
		if (n <= 0) {
			pthread_mutex_lock(&l->lock);
			if (n < 0 && !l->error)
				l->error = (int)n;
			pthread_mutex_unlock(&l->lock);
			fuse_session_exit(l->se);
			break;
		}
		/*
		 * A burst of FORGETs needs no more threads: the kernel waits
		 * for no reply.
		 */
		forget = is_forget(&buf);
		pthread_mutex_lock(&l->lock);
		if (!forget)
			l->navail--;
		if (l->navail == 0 && l->nworkers < l->max_threads &&
		    !l->stopping) {
			int rc = worker_start(l);

			if (rc == 0)
				l->navail++;
			else
				log_debug("cannot start a worker thread: %s",
					  strerror(-rc));
		}
		pthread_mutex_unlock(&l->lock);

		fuse_session_process_buf(l->se, &buf);
		if (buf.flags & FUSE_BUF_IS_FD)
			pipe_check(w);

		pthread_mutex_lock(&l->lock);
		if (!forget)
			l->navail++;
		if (l->navail > l->max_idle && !l->stopping) {
			l->navail--;
			worker_unlink(l, w);
			pthread_mutex_unlock(&l->lock);
			pthread_detach(w->thread);
			worker_free(w);
			return NULL;
		}
		pthread_mutex_unlock(&l->lock);
	}
	sem_post(&l->finish);
	return NULL;
}

int loop_run(struct fuse_session *se, const struct loop_options *o)
{
	struct loop l = {
		.se = se,
		.fd = fuse_session_fd(se),
		.splice = o->splice,
		.max_threads = o->max_threads ? o->max_threads : 1,
		.max_idle = o->max_idle,
		.navail = 1,
	};
	sigset_t old;
	int rc;

	pthread_mutex_init(&l.lock, NULL);
	sem_init(&l.finish, 0, 0);
	if (l.max_threads == 1) {
		/* -s: this thread serves; no other is ever started. */
		struct worker *w = calloc(1, sizeof(*w));

		rc = w ? 0 : -ENOMEM;
		if (w) {
			w->loop = &l;
			w->mem = malloc(BUF_SIZE);
			rc = w->mem ? 0 : -ENOMEM;
		}
		if (!rc) {
			pipe_open(w);
			l.workers = w;
			l.nworkers = 1;
			worker_main(w);
		}
		if (w)
			worker_free(w);
		goto out;
	}

	loop_block_signals(&old);
	rc = worker_start(&l);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		log_msg("cannot start a worker thread: %s", strerror(-rc));
		goto out;
	}
	/* A signal interrupts this wait; its handler ended the session. */
	while (!fuse_session_exited(se))
		sem_wait(&l.finish);

	pthread_mutex_lock(&l.lock);
	l.stopping = true;
	for (struct worker *w = l.workers; w; w = w->next)
		pthread_cancel(w->thread);
	pthread_mutex_unlock(&l.lock);
	/* No worker leaves the list once stopping is set. */
	while (l.workers) {
		struct worker *w = l.workers;

		pthread_join(w->thread, NULL);
		worker_unlink(&l, w);
		worker_free(w);
	}
out:
	if (!rc)
		rc = l.error;
	sem_destroy(&l.finish);
	pthread_mutex_destroy(&l.lock);
	return rc;
}
