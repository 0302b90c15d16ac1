/*
 * inode.c - the inode cache, orphan cleanup and the batched commit.
 *
 * An inode is in the cache while the kernel holds a reference to it
 * (nlookup > 0) or a handle is open on it; the root is always there. Its
 * attributes live in struct inode and are written to meta.db when they
 * are dirty and either the inode leaves the cache or a commit runs.
 *
 * Past INODE_CACHE_MAX inodes, idle ones leave the cache although the
 * kernel still holds them (inode_trim): only their lookup count stays, in
 * fs->ltab, and they are loaded again when next used. A million files
 * walked by find cost 16-32 bytes each instead of a struct inode.
 *
 * When the last name of an inode goes (nlink = 0), it stays, an orphan,
 * until the kernel forgets it and its last handle is closed; then its
 * blocks are freed and its row deleted. Orphans left by a crash are
 * deleted when the store is next mounted.
 *
 * The commit (fs_commit) is described in doc/DESIGN.md section 3.
 */
#include "config.h"

#include <errno.h>
#include <linux/ioprio.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fs/fs.h"
#include "fs/util.h"

/* A commit is started early once the open transaction has this many. */
#define COMMIT_CHANGES_MAX 20000

static size_t inode_hash(const struct fs *fs, uint64_t ino)
{
	return (size_t)((ino * 0x9e3779b97f4a7c15ull) >> 17) &
	       (fs->itab_size - 1);
}

static int itab_grow(struct fs *fs)
{
	size_t size = fs->itab_size ? fs->itab_size * 2 : 4096;
	struct inode **t = calloc(size, sizeof(*t));

	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < fs->itab_size; i++) {
		struct inode *in = fs->itab[i], *next;

		for (; in; in = next) {
			size_t h = (size_t)((in->ino * 0x9e3779b97f4a7c15ull) >>
					    17) & (size - 1);
			next = in->hnext;
			in->hnext = t[h];
			t[h] = in;
		}
	}
	free(fs->itab);
	fs->itab = t;
	fs->itab_size = size;
	return 0;
}

/* --- the lookup table: (ino, nlookup) of inodes not in the cache --- */

static size_t ltab_home(const struct fs *fs, uint64_t ino)
{
	return (size_t)((ino * 0x9e3779b97f4a7c15ull) >> 20) &
	       (fs->ltab_size - 1);
}

static struct lookup_ent *ltab_find(struct fs *fs, uint64_t ino)
{
	if (!fs->ltab)
		return NULL;
	for (size_t i = ltab_home(fs, ino);; i = (i + 1) & (fs->ltab_size - 1)) {
		if (fs->ltab[i].ino == ino)
			return &fs->ltab[i];
		if (fs->ltab[i].ino == 0)
			return NULL;
	}
}

static void ltab_put(struct fs *fs, uint64_t ino, uint64_t n)
{
	size_t i = ltab_home(fs, ino);

	while (fs->ltab[i].ino != 0)
		i = (i + 1) & (fs->ltab_size - 1);
	fs->ltab[i].ino = ino;
	fs->ltab[i].n = n;
	fs->nlookups++;
}

/* Adds @ino with count @n (not yet present); -ENOMEM if it cannot grow. */
static int ltab_add(struct fs *fs, uint64_t ino, uint64_t n)
{
	if ((fs->nlookups + 1) * 4 > fs->ltab_size * 3) {
		size_t old = fs->ltab_size;
		struct lookup_ent *t = fs->ltab;

		fs->ltab = calloc(old ? old * 2 : 4096, sizeof(*t));
		if (!fs->ltab) {
			fs->ltab = t;
			return -ENOMEM;
		}
		fs->ltab_size = old ? old * 2 : 4096;
		fs->nlookups = 0;
		for (size_t i = 0; i < old; i++)
			if (t[i].ino)
				ltab_put(fs, t[i].ino, t[i].n);
		free(t);
	}
	ltab_put(fs, ino, n);
	return 0;
}

/* Removes an entry, moving later entries of its probe run back. */
static void ltab_remove(struct fs *fs, struct lookup_ent *e)
{
	size_t mask = fs->ltab_size - 1, i = (size_t)(e - fs->ltab), j = i;

	for (;;) {
		size_t home;

		j = (j + 1) & mask;
		if (fs->ltab[j].ino == 0)
			break;
		home = ltab_home(fs, fs->ltab[j].ino);
		/* Can entry j move to the hole at i? Only if its home is not
		 * in the cyclic range (i, j]. */
		if ((j > i && (home <= i || home > j)) ||
		    (j < i && (home <= i && home > j))) {
			fs->ltab[i] = fs->ltab[j];
			i = j;
		}
	}
	fs->ltab[i].ino = 0;
	fs->ltab[i].n = 0;
	fs->nlookups--;
}

static struct inode *inode_alloc(struct fs *fs, const struct meta_inode *a,
				 int *err)
{
	struct lookup_ent *e;
	struct inode *in;
	pthread_rwlockattr_t ra;
	size_t h;

	if (fs->ninodes >= fs->itab_size && itab_grow(fs)) {
		*err = -ENOMEM;
		return NULL;
	}
	in = calloc(1, sizeof(*in));
	if (!in) {
		*err = -ENOMEM;
		return NULL;
	}
	in->ino = a->ino;
	in->attr = *a;
	in->has_xattrs = -1;
	in->referenced = true;
	e = ltab_find(fs, a->ino);
	if (e) {
		in->nlookup = e->n;
		ltab_remove(fs, e);
	}
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(&ra,
				      PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&in->iolock, &ra);
	pthread_rwlockattr_destroy(&ra);
	h = inode_hash(fs, in->ino);
	in->hnext = fs->itab[h];
	fs->itab[h] = in;
	fs->ninodes++;
	return in;
}

struct inode *inode_get(struct fs *fs, uint64_t ino, int *err)
{
	struct meta_inode a;
	struct inode *in;

	*err = 0;
	for (in = fs->itab[inode_hash(fs, ino)]; in; in = in->hnext)
		if (in->ino == ino) {
			in->referenced = true;
			return in;
		}
	*err = meta_inode_get(fs->st.meta, ino, &a);
	if (*err) {
		if (*err == -ENOENT)
			log_debug("inode %llu is not in the store",
				  (unsigned long long)ino);
		return NULL;
	}
	return inode_alloc(fs, &a, err);
}

struct inode *inode_new(struct fs *fs, struct meta_inode *a,
			const char *link, int *err)
{
	struct inode *in;

	a->ino = fs->next_ino;
	*err = meta_inode_insert(fs->st.meta, a, link, link ? strlen(link) : 0);
	if (*err)
		return NULL;
	fs->next_ino++;
	fs->ninodes_total++;
	fs_note_changes(fs, 1);
	in = inode_alloc(fs, a, err);
	if (in) {
		in->has_xattrs = 0;
		in->map_loaded = true;
	}
	return in;
}

void inode_mark_dirty(struct fs *fs, struct inode *in)
{
	if (in->dirty)
		return;
	in->dirty = true;
	in->dnext = fs->dirty_inodes;
	if (in->dnext)
		in->dnext->dpprev = &in->dnext;
	in->dpprev = &fs->dirty_inodes;
	fs->dirty_inodes = in;
	fs_note_changes(fs, 1);
}

static void inode_clean(struct inode *in)
{
	if (!in->dirty)
		return;
	*in->dpprev = in->dnext;
	if (in->dnext)
		in->dnext->dpprev = in->dpprev;
	in->dnext = NULL;
	in->dpprev = NULL;
	in->dirty = false;
}

/* Frees an orphan's blocks and deletes it from the store. */
static int inode_delete(struct fs *fs, struct inode *in)
{
	int rc = map_free_all(fs, in);

	if (!rc)
		rc = meta_inode_delete(fs->st.meta, in->ino);
	if (!rc) {
		fs->ninodes_total--;
		fs_note_changes(fs, 1);
	}
	return rc;
}

static void inode_unhash_free(struct fs *fs, struct inode *in)
{
	struct inode **pp = &fs->itab[inode_hash(fs, in->ino)];

	while (*pp && *pp != in)
		pp = &(*pp)->hnext;
	if (*pp) {
		*pp = in->hnext;
		fs->ninodes--;
	}
	map_release(fs, in);
	pthread_rwlock_destroy(&in->iolock);
	free(in);
}

void inode_maybe_evict(struct fs *fs, struct inode *in)
{
	int rc = 0;

	if (in->nlookup > 0 || in->nopen > 0 || in->ino == META_ROOT_INO)
		return;
	if (in->attr.nlink == 0) {
		rc = inode_delete(fs, in);
		if (rc)
			log_msg("cannot delete unlinked inode %llu: %s",
				(unsigned long long)in->ino, strerror(-rc));
	} else if (in->dirty) {
		rc = meta_inode_update(fs->st.meta, &in->attr);
		if (rc) {
			/* Keep it cached so the change is retried. */
			log_msg("cannot write inode %llu: %s",
				(unsigned long long)in->ino, strerror(-rc));
			return;
		}
	}
	inode_clean(in);
	inode_unhash_free(fs, in);
}

void inode_forget(struct fs *fs, uint64_t ino, uint64_t n)
{
	struct inode *in;
	struct lookup_ent *e;

	for (in = fs->itab[inode_hash(fs, ino)]; in; in = in->hnext)
		if (in->ino == ino)
			break;
	if (in) {
		in->nlookup = n > in->nlookup ? 0 : in->nlookup - n;
		inode_maybe_evict(fs, in);
		return;
	}
	e = ltab_find(fs, ino);
	if (!e)
		return;
	if (n < e->n)
		e->n -= n;
	else
		ltab_remove(fs, e); /* it has a name: nothing to delete */
}

/* May @in leave the cache while the kernel holds it? */
static bool inode_idle(struct inode *in)
{
	return in->ino != META_ROOT_INO && in->nopen == 0 && in->users == 0 &&
	       !in->dirty && in->attr.nlink > 0;
}

void inode_trim(struct fs *fs)
{
	size_t low = INODE_CACHE_MAX - INODE_CACHE_MAX / 4;

	if (fs->ninodes <= MAX(INODE_CACHE_MAX, fs->trim_next))
		return;
	/* CLOCK: a used inode survives one visit; two turns at most. */
	for (size_t k = 0; k < 2 * fs->itab_size && fs->ninodes > low; k++) {
		struct inode **pp = &fs->itab[fs->trim_pos];

		while (*pp) {
			struct inode *in = *pp;

			if (!inode_idle(in) || in->referenced) {
				in->referenced = false;
				pp = &in->hnext;
				continue;
			}
			if (in->nlookup > 0 &&
			    ltab_add(fs, in->ino, in->nlookup) != 0)
				return; /* no memory: keep the inode */
			in->nlookup = 0;
			inode_unhash_free(fs, in);
		}
		fs->trim_pos = (fs->trim_pos + 1) & (fs->itab_size - 1);
	}
	/* Most inodes in use (open files)? Do not scan again too soon. */
	fs->trim_next = fs->ninodes > low ? fs->ninodes + INODE_CACHE_MAX / 4 : 0;
}

void inode_to_stat(const struct fs *fs, const struct inode *in,
		   struct stat *st)
{
	const struct meta_inode *a = &in->attr;

	memset(st, 0, sizeof(*st));
	st->st_ino = in->ino;
	st->st_mode = a->mode;
	st->st_nlink = a->nlink;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_rdev = a->rdev;
	st->st_size = (off_t)a->size;
	st->st_blksize = fs->bs;
	st->st_blocks = (blkcnt_t)((in->nblocks << fs->bshift) >> 9);
	st->st_atim = ns_to_ts(a->atime_ns);
	st->st_mtim = ns_to_ts(a->mtime_ns);
	st->st_ctim = ns_to_ts(a->ctime_ns);
}

void fs_kick_commit(struct fs *fs)
{
	pthread_mutex_lock(&fs->commit_wait_lock);
	pthread_cond_signal(&fs->commit_wake);
	pthread_mutex_unlock(&fs->commit_wait_lock);
}

void fs_note_changes(struct fs *fs, uint64_t n)
{
	uint64_t before = fs->changes;

	fs->changes += n;
	if (before < COMMIT_CHANGES_MAX && fs->changes >= COMMIT_CHANGES_MAX)
		fs_kick_commit(fs);
}

static int flush_inodes(struct fs *fs)
{
	while (fs->dirty_inodes) {
		struct inode *in = fs->dirty_inodes;
		int rc = meta_inode_update(fs->st.meta, &in->attr);

		if (rc)
			return rc;
		inode_clean(in);
	}
	return 0;
}

/*
 * The syncer runs the pack's fdatasync for a commit while the committing
 * thread writes the metadata into the transaction, so that the disk flush
 * and the SQL work overlap; the commit waits for it before it commits.
 */
static void *syncer(void *arg)
{
	struct fs *fs = arg;

	pthread_mutex_lock(&fs->sync_lock);
	for (;;) {
		while (fs->sync_state != SYNC_ASKED && !fs->sync_stop)
			pthread_cond_wait(&fs->sync_cond, &fs->sync_lock);
		if (fs->sync_state != SYNC_ASKED)
			break;
		pthread_mutex_unlock(&fs->sync_lock);
		int rc = store_sync(&fs->st);
		pthread_mutex_lock(&fs->sync_lock);
		fs->sync_rc = rc;
		fs->sync_state = SYNC_DONE;
		pthread_cond_broadcast(&fs->sync_cond);
	}
	pthread_mutex_unlock(&fs->sync_lock);
	return NULL;
}

/* Starts the pack's fdatasync on the syncer; false if it cannot. */
static bool pack_sync_start(struct fs *fs)
{
	if (!fs->syncer_running || !fs->st.pack_written)
		return false;
	pthread_mutex_lock(&fs->sync_lock);
	fs->sync_state = SYNC_ASKED;
	pthread_cond_broadcast(&fs->sync_cond);
	pthread_mutex_unlock(&fs->sync_lock);
	return true;
}

static int pack_sync_wait(struct fs *fs)
{
	int rc;

	pthread_mutex_lock(&fs->sync_lock);
	while (fs->sync_state != SYNC_DONE)
		pthread_cond_wait(&fs->sync_cond, &fs->sync_lock);
	fs->sync_state = SYNC_IDLE;
	rc = fs->sync_rc;
	pthread_mutex_unlock(&fs->sync_lock);
	return rc;
}

/*
 * Commit with fs->lock and commit_lock held. With commit_lock no data
 * write is in flight, so the pack's fdatasync can start at once.
 */
static int commit_locked(struct fs *fs)
{
	bool syncing;
	int rc, rc_sync;

	if (fs->commit_error)
		return fs->commit_error;
	if (fs->changes == 0 && !fs->st.pack_written)
		return 0;
	if (fs->opt.readonly)
		return -EROFS;
	syncing = pack_sync_start(fs);
	rc = flush_inodes(fs);
	if (!rc)
		rc = map_flush(fs);
	if (!rc)
		rc = store_flush(&fs->st);
	if (!rc && fs->next_ino != meta_super(fs->st.meta)->next_ino)
		rc = meta_set_next_ino(fs->st.meta, fs->next_ino);
	/* Invariant: data reaches the disk before metadata that names it. */
	rc_sync = syncing ? pack_sync_wait(fs) : store_sync(&fs->st);
	if (!rc)
		rc = rc_sync;
	if (!rc && fs->changes)
		rc = meta_commit(fs->st.meta);
	if (rc) {
		/*
		 * The database may have rolled the transaction back while our
		 * memory still holds it: nothing more can be committed safely.
		 */
		log_msg("commit to store \"%s\" failed: %s; no further changes will be saved",
			fs->st.path, strerror(-rc));
		fs->commit_error = rc;
		return rc;
	}
	store_post_commit(&fs->st);
	map_post_commit(fs);
	fs->changes = 0;
	fs->txn_bytes = 0;
	return 0;
}

int fs_commit(struct fs *fs)
{
	int rc;

	pthread_rwlock_wrlock(&fs->commit_lock);
	pthread_mutex_lock(&fs->lock);
	rc = commit_locked(fs);
	pthread_mutex_unlock(&fs->lock);
	pthread_rwlock_unlock(&fs->commit_lock);
	return rc;
}

/*
 * Checksums slots that stayed quiet for a whole transaction (invariant 7),
 * reading at most @budget bytes. The data is read with no lock held: a
 * write into a listed slot marks it before it starts, and such a slot's
 * sum is dropped. The sums go into the open transaction.
 */
uint64_t fs_sum_quiet(struct fs *fs, uint64_t budget, bool *yielded)
{
	enum { BATCH = 256 };
	uint64_t slots[BATCH], gen = 0, done = 0;
	uint8_t (*sums)[META_SUM_SIZE] = malloc(BATCH * sizeof(*sums));
	void *buf = aligned_alloc(4096, fs->bs);
	uint64_t seen = __atomic_load_n(&fs->io_requests, __ATOMIC_RELAXED);
	size_t pos = 0;

	if (yielded)
		*yielded = false;
	while (sums && buf && done < budget && !(yielded && *yielded)) {
		size_t n, max = MIN(BATCH, (budget - done + fs->bs - 1) >> fs->bshift);
		int rc = 0;

		pthread_mutex_lock(&fs->lock);
		if (fs->st.summed_gen != gen || fs->commit_error) {
			gen = fs->st.summed_gen;
			pos = 0;
		}
		n = fs->commit_error ? 0
				     : store_quiet_slots(&fs->st, &pos, slots, max);
		pthread_mutex_unlock(&fs->lock);
		if (n == 0)
			break;
		for (size_t i = 0; i < n && !rc; i++) {
			if (yielded &&
			    __atomic_load_n(&fs->io_requests,
					    __ATOMIC_RELAXED) != seen) {
				*yielded = true;
				n = i;
				break;
			}
			rc = store_sum_slot(&fs->st, slots[i], buf, true, sums[i]);
			if (rc) {
				log_msg("store \"%s\": cannot read slot %llu to checksum it: %s",
					fs->st.path,
					(unsigned long long)slots[i],
					strerror(-rc));
				n = i;
			}
		}
		pthread_mutex_lock(&fs->lock);
		if (!fs->commit_error) {
			int k = store_set_sums(&fs->st, gen, slots, sums, n);

			if (k > 0)
				fs_note_changes(fs, (uint64_t)k);
			else if (k < 0)
				rc = k;
		}
		pthread_mutex_unlock(&fs->lock);
		if (rc)
			break;
		done += (uint64_t)n << fs->bshift;
	}
	free(sums);
	free(buf);
	return done;
}

static void *committer(void *arg)
{
	struct fs *fs = arg;

	pthread_mutex_lock(&fs->commit_wait_lock);
	while (!fs->stopping) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += fs->opt.commit_interval;
		pthread_cond_timedwait(&fs->commit_wake, &fs->commit_wait_lock,
				       &ts);
		if (fs->stopping)
			break;
		pthread_mutex_unlock(&fs->commit_wait_lock);
		fs_commit(fs);
		pthread_mutex_lock(&fs->commit_wait_lock);
	}
	pthread_mutex_unlock(&fs->commit_wait_lock);
	return NULL;
}

/*
 * Waits until SUM_IDLE_MS pass with no read or write request, for at most
 * a commit interval. Called and returns with commit_wait_lock held; false
 * if the filesystem stayed busy or is stopping.
 */
static bool wait_idle(struct fs *fs)
{
	uint64_t seen = __atomic_load_n(&fs->io_requests, __ATOMIC_RELAXED);
	unsigned waits = fs->opt.commit_interval * 1000 / SUM_IDLE_MS;

	for (unsigned i = 0; i < waits && !fs->stopping; i++) {
		struct timespec ts;
		uint64_t now;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += SUM_IDLE_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!fs->stopping &&
		       pthread_cond_timedwait(&fs->sum_wake,
					      &fs->commit_wait_lock,
					      &ts) != ETIMEDOUT)
			;
		now = __atomic_load_n(&fs->io_requests, __ATOMIC_RELAXED);
		if (now == seen)
			return !fs->stopping;
		seen = now;
	}
	return false;
}

/*
 * The summer checksums quiet slots, SUM_BUDGET_ROUND every commit
 * interval, and has the committer commit them as soon as the round is
 * done (an fsync's commit then rarely carries them). Reading back and
 * hashing what was written must not slow down those who read and write
 * (doc/DESIGN.md 1.3): it runs at idle CPU and I/O priority, reads only
 * after SUM_IDLE_MS without requests and stops at the next one. A
 * filesystem never idle for a whole interval still gets SUM_BUDGET_BUSY
 * summed per round.
 */
static void *summer(void *arg)
{
	struct sched_param sp = { .sched_priority = 0 };
	struct fs *fs = arg;

	pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp);
	syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0,
		IOPRIO_PRIO_VALUE(IOPRIO_CLASS_IDLE, 0));
	pthread_mutex_lock(&fs->commit_wait_lock);
	while (!fs->stopping) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += fs->opt.commit_interval;
		while (!fs->stopping &&
		       pthread_cond_timedwait(&fs->sum_wake,
					      &fs->commit_wait_lock,
					      &ts) != ETIMEDOUT)
			;
		if (fs->stopping)
			break;

		uint64_t done = 0;
		bool idle = false, yielded = true, busy;

		while (yielded && done < SUM_BUDGET_ROUND &&
		       (idle = wait_idle(fs))) {
			pthread_mutex_unlock(&fs->commit_wait_lock);
			done += fs_sum_quiet(fs, SUM_BUDGET_ROUND - done,
					     &yielded);
			pthread_mutex_lock(&fs->commit_wait_lock);
		}
		busy = !idle && !done && !fs->stopping;
		pthread_mutex_unlock(&fs->commit_wait_lock);
		if (busy)
			done = fs_sum_quiet(fs, SUM_BUDGET_BUSY, NULL);
		if (done)
			fs_kick_commit(fs);
		pthread_mutex_lock(&fs->commit_wait_lock);
	}
	pthread_mutex_unlock(&fs->commit_wait_lock);
	return NULL;
}

int fs_start_committer(struct fs *fs)
{
	int rc = pthread_create(&fs->committer, NULL, committer, fs);

	if (rc)
		return -rc;
	fs->committer_running = true;
	if (fs->opt.readonly)
		return 0;
	rc = pthread_create(&fs->summer, NULL, summer, fs);
	if (!rc)
		fs->summer_running = true;
	if (!rc)
		rc = pthread_create(&fs->syncer, NULL, syncer, fs);
	if (rc) {
		fs_stop_committer(fs);
		return -rc;
	}
	fs->syncer_running = true;
	return 0;
}

void fs_stop_committer(struct fs *fs)
{
	if (!fs->committer_running)
		return;
	pthread_mutex_lock(&fs->commit_wait_lock);
	fs->stopping = true;
	pthread_cond_signal(&fs->commit_wake);
	pthread_cond_signal(&fs->sum_wake);
	pthread_mutex_unlock(&fs->commit_wait_lock);
	if (fs->summer_running)
		pthread_join(fs->summer, NULL);
	fs->summer_running = false;
	pthread_join(fs->committer, NULL);
	fs->committer_running = false;
	if (fs->syncer_running) {
		pthread_mutex_lock(&fs->sync_lock);
		fs->sync_stop = true;
		pthread_cond_broadcast(&fs->sync_cond);
		pthread_mutex_unlock(&fs->sync_lock);
		pthread_join(fs->syncer, NULL);
		fs->syncer_running = false;
	}
}

static int delete_orphan(void *ctx, uint64_t ino)
{
	struct fs *fs = ctx;
	int rc;
	struct inode *in = inode_get(fs, ino, &rc);

	if (!in)
		return rc;
	log_debug("deleting orphan inode %llu", (unsigned long long)ino);
	inode_maybe_evict(fs, in);
	return 0;
}

int fs_init(struct fs *fs, const char *store_path, const struct fs_options *o,
	    char *err, size_t errlen)
{
	pthread_rwlockattr_t ra;
	struct inode *root;
	int rc;

	memset(fs, 0, sizeof(*fs));
	fs->opt = *o;
	rc = store_open(&fs->st, store_path, o->readonly, err, errlen);
	if (rc)
		return rc;
	fs->st.sum_delay = o->sum_delay;
	fs->bs = fs->st.block_size;
	fs->bshift = fs->st.block_shift;
	fs->next_ino = meta_super(fs->st.meta)->next_ino;
	pthread_mutex_init(&fs->lock, NULL);
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(&ra,
				      PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&fs->commit_lock, &ra);
	pthread_rwlockattr_destroy(&ra);
	pthread_mutex_init(&fs->commit_wait_lock, NULL);
	pthread_cond_init(&fs->commit_wake, NULL);
	pthread_cond_init(&fs->sum_wake, NULL);
	pthread_mutex_init(&fs->sync_lock, NULL);
	pthread_cond_init(&fs->sync_cond, NULL);
	fs->zero_page = calloc(1, fs->bs);
	if (!fs->zero_page || itab_grow(fs)) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto fail;
	}
	fs->ninodes_total = meta_inode_count(fs->st.meta);
	/* Read-only, orphans stay for the next read-write mount. */
	rc = fs->opt.readonly ? 0 : meta_orphans(fs->st.meta, delete_orphan, fs);
	if (!rc)
		rc = commit_locked(fs);
	if (rc) {
		snprintf(err, errlen, "store \"%s\": cannot clean orphans: %s",
			 store_path, strerror(-rc));
		goto fail;
	}
	root = inode_get(fs, META_ROOT_INO, &rc);
	if (!root) {
		snprintf(err, errlen, "store \"%s\" has no root directory: %s",
			 store_path, strerror(-rc));
		goto fail;
	}
	return 0;
fail:
	fs_destroy(fs);
	return rc;
}

void fs_destroy(struct fs *fs)
{
	fs_stop_committer(fs);
	if (fs->st.meta) {
		/* Write back what the cache still holds, then commit. */
		for (size_t i = 0; i < fs->itab_size; i++) {
			while (fs->itab[i]) {
				struct inode *in = fs->itab[i];

				in->nlookup = 0;
				in->nopen = 0;
				if (in->ino == META_ROOT_INO) {
					if (in->dirty &&
					    meta_inode_update(fs->st.meta,
							      &in->attr) == 0)
						inode_clean(in);
					fs->itab[i] = in->hnext;
					map_release(fs, in);
					pthread_rwlock_destroy(&in->iolock);
					free(in);
					continue;
				}
				inode_maybe_evict(fs, in);
				if (fs->itab[i] == in) /* eviction failed */
					fs->itab[i] = in->hnext;
			}
		}
		pthread_mutex_lock(&fs->lock);
		if (!fs->opt.readonly)
			fs->changes++;
		commit_locked(fs);
		pthread_mutex_unlock(&fs->lock);
		/* What the last transaction wrote is quiet now: sum it. */
		fs->st.sum_delay = 0;
		fs_sum_quiet(fs, SUM_BUDGET_UNMOUNT, NULL);
		pthread_mutex_lock(&fs->lock);
		commit_locked(fs);
		pthread_mutex_unlock(&fs->lock);
	}
	store_close(&fs->st);
	free(fs->ltab);
	fs->ltab = NULL;
	free(fs->itab);
	free(fs->ctab);
	free(fs->zero_page);
	fs->itab = NULL;
	fs->ctab = NULL;
	fs->zero_page = NULL;
}
