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

/* Largest file offset cowfs accepts (like ext4 with 4 KiB blocks: 16 TiB). */
#define COWFS_MAX_FILE_SIZE (1ull << 44)

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
	pthread_rwlock_t iolock; /* data I/O shared, truncate exclusive */
	struct inode *hnext;	/* fs->lock: hash chain */
	struct inode *dnext;	/* fs->lock: dirty list */
	struct inode **dpprev;	/* fs->lock: dirty list */
};

struct fs_options {
	unsigned commit_interval; /* seconds */
	bool nosplice;
	bool writeback;
	bool debug;
	bool readonly;		/* -o ro: the store is opened read-only */
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
	int commit_error;	/* fs->lock: last commit's error, sticky */

	char *zero_page;	/* block_size zeros, for holes on read */
	/* Data path counters (atomic; see struct cowfs_ioc_stat). */
	uint64_t read_spliced, read_copied, write_spliced, write_copied;
	struct fuse_session *se; /* for notifications to the kernel */
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
