/*
 * fs.h - the daemon's state: one struct fs per mount, struct inode for the
 * inodes the kernel knows, struct chunk for cached block maps.
 *
 * Lock order (doc/DESIGN.md section 3), outermost first:
 *	inode->iolock  ->  fs->commit_lock  ->  fs->lock
 * Every field below says which lock protects it.
 */
#ifndef COWFS_FS_H
#define COWFS_FS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

struct fuse_session;

#include "fs/store.h"
#include "meta/meta.h"

/*
 * Largest file size: the kernel's own for a FUSE mount (MAX_LFS_FILESIZE,
 * 8 EiB - 1). FUSE cannot tell the kernel a smaller one, and with the
 * writeback cache a write below the kernel's limit is accepted into its
 * page cache before cowfs sees it: a smaller limit here would lose such
 * data at writeback (xfstests generic/490). Block and chunk numbers are
 * 64-bit; every offset + length below stays under 2^64.
 */
#define COWFS_MAX_FILE_SIZE ((uint64_t)INT64_MAX)

/*
 * A cached chunk: the slots of chunk_blocks consecutive blocks of one or
 * more files. Shared between the inodes whose maps name it.
 */
struct chunk {
	uint64_t id;		/* row in the chunk table */
	uint32_t refs;		/* persistent: fmap rows naming it (inv. 1) */
	uint32_t crefs;		/* refs at the last commit (inv. 4) */
	uint32_t users;		/* in-memory: loaded file maps naming it */
	uint32_t n;		/* entries in slot[] (the rest are holes) */
	uint32_t cap;		/* allocated entries in slot[] */
	uint64_t *slot;
	bool dirty;		/* refs or slot[] changed since commit */
	bool hashed;		/* in fs->ctab (not once deleted) */
	struct chunk *hnext;	/* hash chain */
	struct chunk *dnext;	/* dirty list */
};				/* all fields: protected by fs->lock */

struct fmap_ent {
	uint64_t cidx;
	struct chunk *c;
};

struct inode {
	uint64_t ino;
	struct meta_inode attr;	/* fs->lock */
	uint64_t nlookup;	/* fs->lock: the kernel's references */
	uint32_t nopen;		/* fs->lock: open handles */
	uint32_t nwriters;	/* fs->lock: handles open for writing */
	int has_xattrs;		/* fs->lock: -1 unknown, 0 no, 1 yes */
	bool dirty;		/* fs->lock: attr differs from meta.db */
	bool map_loaded;	/* fs->lock */
	struct fmap_ent *map;	/* fs->lock: sorted by cidx */
	size_t nmap, map_cap;	/* fs->lock */
	uint64_t nblocks;	/* fs->lock: mapped blocks, when map_loaded */
	uint32_t users;		/* fs->lock: operations using it while they
				 * do not hold fs->lock (no open handle) */
	bool referenced;	/* fs->lock: used since the last trim pass */
	int64_t buffered_ns;	/* fs->lock: monotonic time of the last
				 * write into the pack through the host's
				 * cache (fs_write_buf), and the range of */
	uint64_t buffered_lo, buffered_hi; /* the file those cover */
	uint64_t write_end;	/* fs->lock: end of the furthest write
				 * prepared since the last size change */
	pthread_rwlock_t iolock; /* data I/O shared, truncate exclusive */
	struct inode *hnext;	/* fs->lock: hash chain */
	struct inode *dnext;	/* fs->lock: dirty list */
	struct inode **dpprev;	/* fs->lock: dirty list */
};

/* The largest WRITE a pipe of fs.pipe-max-size (1 MiB) takes whole. */
#define COWFS_MAX_WRITE ((1u << 20) - 4096)
/* Requests in flight without waiting (the kernel's default is 12). */
#define COWFS_MAX_BACKGROUND 64

struct fs_options {
	unsigned commit_interval; /* seconds */
	unsigned sum_delay;	/* seconds unwritten before a block is summed */
	bool nosplice;
	bool writeback;
	bool verify;	/* check reads against the slot checksums */
	bool debug;
	bool readonly;		/* -o ro: the store is opened read-only */
	/*
	 * Tuning (-o options; contrib/bench/README.md measures each). 0 for
	 * max_write, max_background and congestion: cowfs's choice.
	 */
	uint32_t max_write;
	unsigned max_background, congestion;
	double attr_timeout, entry_timeout;	/* seconds */
	bool no_keep_cache;	/* drop the kernel's cache at every open */
};

struct fs {
	struct store st;
	struct fs_options opt;
	uint32_t bs;		/* block size */
	uint32_t bshift;

	pthread_mutex_t lock;
	pthread_rwlock_t commit_lock;

	struct inode **itab;	/* fs->lock: hash of cached inodes */
	size_t itab_size, ninodes;
	size_t trim_pos;	/* fs->lock: where the next trim pass starts */
	size_t trim_next;	/* fs->lock: no pass below this many inodes */
	/*
	 * fs->lock: the kernel's lookup counts of inodes it holds that are
	 * not in itab (open addressing, ino 0 = empty slot): 16 bytes each
	 * instead of a struct inode (inode_trim).
	 */
	struct lookup_ent { uint64_t ino, n; } *ltab;
	size_t ltab_size, nlookups;
	struct inode *dirty_inodes; /* fs->lock */
	struct chunk **ctab;	/* fs->lock: hash of cached chunks */
	size_t ctab_size, nchunks;
	struct chunk *dirty_chunks; /* fs->lock */
	uint64_t next_ino;	/* fs->lock */
	uint64_t changes;	/* fs->lock: changes in the open transaction */
	uint64_t txn_bytes;	/* fs->lock: names and values it added */
	int64_t ninodes_total;	/* fs->lock: inodes in the store */

	pthread_t committer;
	pthread_mutex_t commit_wait_lock;
	pthread_cond_t commit_wake;
	bool committer_running; /* commit_wait_lock */
	bool stopping;		/* commit_wait_lock */
	pthread_t summer;	/* checksums quiet slots (fs_sum_quiet) */
	pthread_cond_t sum_wake; /* commit_wait_lock: signalled to stop */
	bool summer_running;	/* commit_wait_lock */
	pthread_t syncer;	/* the pack's fdatasync of a commit */
	pthread_mutex_t sync_lock;
	pthread_cond_t sync_cond;
	enum { SYNC_IDLE, SYNC_ASKED, SYNC_DONE } sync_state; /* sync_lock */
	int sync_rc;		/* sync_lock: result when SYNC_DONE */
	bool sync_stop;		/* sync_lock */
	bool syncer_running;
	int commit_error;	/* fs->lock: last commit's error, sticky */

	char *zero_page;	/* block_size zeros, for holes on read */
	/* Data path counters (atomic; see struct cowfs_ioc_stat). */
	uint64_t read_spliced, read_copied, write_spliced, write_copied;
	uint64_t io_requests;	/* reads and writes received (atomic): the
				 * summer gives way to them */
	struct fuse_session *se; /* for notifications to the kernel */
	bool killpriv;		/* FUSE_HANDLE_KILLPRIV_V2 is on */
};

/* --- inode.c: the inode cache and the commit --- */

int fs_init(struct fs *fs, const char *store_path, const struct fs_options *o,
	    char *err, size_t errlen);
void fs_destroy(struct fs *fs);
int fs_start_committer(struct fs *fs);
void fs_stop_committer(struct fs *fs);

/* Finds or loads an inode (fs->lock held). Sets *err to 0, or returns NULL
 * with *err = -errno. */
struct inode *inode_get(struct fs *fs, uint64_t ino, int *err);
/* Creates a new inode with @a (ino assigned here), linked nowhere yet. */
struct inode *inode_new(struct fs *fs, struct meta_inode *a,
			const char *link, int *err);
void inode_mark_dirty(struct fs *fs, struct inode *in);
/* Drops the inode from the cache if nothing holds it (fs->lock held). */
void inode_maybe_evict(struct fs *fs, struct inode *in);
/*
 * The kernel forgets @n lookups of @ino (fs->lock held): the inode leaves
 * the cache, or the lookup table, at zero.
 */
void inode_forget(struct fs *fs, uint64_t ino, uint64_t n);
/*
 * Keeps the inode cache near INODE_CACHE_MAX entries: inodes the kernel
 * still knows but nothing uses (no open handle, no user, clean, with a
 * name) leave it, their lookup counts kept in fs->ltab. Call with fs->lock
 * held, at the start of an operation, before it takes any inode pointer:
 * a pointer taken in an earlier critical section is only safe with an
 * open handle or a users count.
 */
void inode_trim(struct fs *fs);
#define INODE_CACHE_MAX 8192
void inode_to_stat(const struct fs *fs, const struct inode *in,
		   struct stat *st);
/* Counts a change toward the size-triggered commit (fs->lock held). */
void fs_note_changes(struct fs *fs, uint64_t n);
/* Asks the commit thread to commit now (any locks may be held). */
void fs_kick_commit(struct fs *fs);

/*
 * Commits everything: waits for data writes in flight, flushes dirty
 * inodes, chunks and slots, syncs the pack and commits. Takes the locks
 * itself; the caller holds none. Returns 0 or -errno.
 */
int fs_commit(struct fs *fs);

/*
 * Checksums hot slots that were not written in the open transaction nor
 * in the last sum_delay seconds, reading at most @budget bytes
 * (doc/DESIGN.md 1.3). Takes fs->lock. Returns the bytes summed. With
 * @yielded, stops as soon as a read or write request comes in, and says
 * so in *@yielded.
 */
uint64_t fs_sum_quiet(struct fs *fs, uint64_t budget, bool *yielded);
#define SUM_BUDGET_ROUND (512ull << 20)	/* per round of the summer */
#define SUM_BUDGET_BUSY (8ull << 20)	/* per round while never idle */
#define SUM_IDLE_MS 100		/* quiet time before the summer reads */
#define SUM_BUDGET_UNMOUNT (4ull << 30)	/* at unmount */

/* --- map.c: block maps and copy-on-write --- */

struct map_seg {
	uint64_t pos;		/* byte offset in the pack, or 0 for a hole */
	uint64_t len;
};

int map_load(struct fs *fs, struct inode *in);
void map_release(struct fs *fs, struct inode *in);
/* Slot of block @b of the file, 0 for a hole (map loaded, fs->lock). */
uint64_t map_lookup(struct fs *fs, struct inode *in, uint64_t b);
/*
 * Makes block @b writable for bytes [@off, @off + @len) of the block:
 * unshares its chunk and its slot as needed and allocates a slot for a
 * hole. Returns the slot or -errno (as a negative int64). fs->lock held.
 */
/*
 * Before an overwrite of block @b that would otherwise be copied only
 * because the block has a checksum (invariant 7): asks for a permit for
 * the block's whole chunk. 1: commit (the sums are cleared in the open
 * transaction), then prepare the write, which then goes in place; 0: no
 * permit needed; or -errno.
 */
int map_permit(struct fs *fs, struct inode *in, uint64_t b);
int64_t map_prepare_write(struct fs *fs, struct inode *in, uint64_t b,
			  uint32_t off, uint32_t len);
/* Unmaps whole blocks [@first, @last] (fs->lock held, iolock exclusive). */
int map_unmap(struct fs *fs, struct inode *in, uint64_t first, uint64_t last);
/* Zeroes bytes [@off, @off+@len) of block @b, unsharing as needed. */
int map_zero_partial(struct fs *fs, struct inode *in, uint64_t b,
		     uint32_t off, uint32_t len);
/* Frees every block of the file (deletion). */
int map_free_all(struct fs *fs, struct inode *in);
/*
 * Clones: block @bo of @dst names the slot of block @bi of @src (a hole if
 * that is one); chunk @co of @dst becomes the chunk @ci of @src, shared.
 * No data moves. fs->lock held, both iolocks exclusive.
 */
int map_share_block(struct fs *fs, struct inode *dst, uint64_t bo,
		    struct inode *src, uint64_t bi);
int map_share_chunk(struct fs *fs, struct inode *dst, uint64_t co,
		    struct inode *src, uint64_t ci);
/* Bytes in mapped blocks, and of those in blocks shared with any other. */
void map_stat(struct fs *fs, struct inode *in, uint64_t *allocated,
	      uint64_t *shared);
/* Writes dirty chunks into the open transaction (commit). */
int map_flush(struct fs *fs);
/* After commit: drop clean chunks nobody uses. */
void map_post_commit(struct fs *fs);

#endif
