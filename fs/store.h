/*
 * store.h - a cowfs store: its directory, its lock, the pack file of slots
 * and the slot allocator.
 *
 * The pack file is an array of fixed-size slots (doc/DESIGN.md 1.1). This
 * module owns the in-memory reference count of every slot and decides which
 * slot a new block goes to. It knows nothing of files or chunks: fs/map.c
 * asks it for slots and tells it when a reference is added or dropped.
 *
 * Invariants kept here (numbers as in doc/DESIGN.md section 2):
 *  (2) a slot's count is the number of chunk map entries naming it: it is
 *      never stored, but counted from the committed maps at open;
 *  (3) a slot is free exactly when its count is 0 and it is not pending;
 *  (4) store_slot_private() is true only for a slot whose count is 1 now,
 *      was at most 1 at the last commit and gained no reference since;
 *  (5) a slot whose count falls to 0 is pending until store_post_commit():
 *      store_alloc() never returns it before then;
 *  (7) a slot that has a checksum row committed is never written: only a
 *      hot slot (SLOT_HOT, no checksum in the committed state) is written
 *      in place, so a checksum always describes what the pack holds, even
 *      after a crash.
 *
 * Locking: every function that takes a struct store * except the I/O
 * helpers (store_read_at, store_copy, store_zero) must be called with the
 * caller's metadata lock held (fs->lock in the daemon).
 */
#ifndef COWFS_STORE_H
#define COWFS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "meta/meta.h"

#define STORE_META_NAME "meta.db"
#define STORE_PACK_NAME "blocks"
#define STORE_PACK_MAGIC "COWFSPK"
#define STORE_PACK_VERSION 1	/* the pack's layout; meta.db has its own */
#define STORE_HEADER_SIZE 4096
#define STORE_DEFAULT_BLOCK_SIZE 65536
#define STORE_DEFAULT_CHUNK_BLOCKS 1024

/* Bits of store->refs[] above the count. */
#define SLOT_COUNT_MASK 0x03ffffffu
#define SLOT_PERMIT (1u << 26)	/* sum cleared in the open transaction: hot
				 * once it commits (store_permit) */
#define SLOT_WRITTEN (1u << 27)	/* data written in the open transaction */
#define SLOT_HOT (1u << 28)	/* no checksum in the committed state: may
				 * be written in place (invariant 7) */
#define SLOT_PENDING (1u << 29)	/* freed in the open transaction */
#define SLOT_CSHARED (1u << 30)	/* shared at the last commit or since */
#define SLOT_DIRTY (1u << 31)	/* count changed in the open transaction */

struct store {
	char *path;		/* the store directory, as given */
	int dirfd;
	int packfd;
	int packfd_direct;	/* the pack again, O_DIRECT; -1 if unsupported */
	struct meta *meta;
	uint32_t block_size;
	uint32_t block_shift;
	uint32_t chunk_blocks;
	bool readonly;

	/* The slot allocator. Slot 0 is the header and never allocated. */
	uint32_t *refs;		/* count and flags of slots [0, nslots) */
	uint64_t nslots;	/* slots below this exist in the pack */
	uint64_t cap;		/* allocated length of refs[] */
	uint64_t used;		/* slots with count > 0 */
	uint64_t nfree;		/* free slots below nslots */
	uint64_t cursor;	/* where the next search for a free slot starts */
	uint64_t *dirty;	/* slots with SLOT_DIRTY set, in order */
	size_t ndirty, dirty_cap;
	uint16_t *stamp;	/* per slot: the store clock (seconds,
				 * wrapping) at the first commit after the
				 * slot was last written */
	uint64_t *hot;		/* slots with SLOT_HOT set, and some that
				 * lost it since or appear twice: dropped
				 * once they are half the list */
	size_t nhot, hot_cap, hot_dead;
	uint64_t *written;	/* slots with SLOT_WRITTEN set */
	size_t nwritten, written_cap;
	unsigned sum_delay;	/* seconds a slot stays unwritten before
				 * it is summed (at most HOT_AGE_MAX) */
	uint64_t *permit;	/* slots with SLOT_PERMIT set */
	size_t npermit, permit_cap;
	size_t permit_flushed;	/* permit[0, permit_flushed) have no sum */
	uint64_t summed_gen;	/* bumped by every commit: sums computed
				 * before a commit are not trusted after it */
	uint64_t fresh;		/* slots >= this were never handed out since
				 * the pack was last cut: they read zeros */
	uint64_t lost_from, lost_to; /* slots the pack file was found too
				 * short to hold at open: their data is gone */
	uint64_t pack_len;	/* length of the pack file in slots; always
				 * above every allocated slot, so a read of
				 * a slot is never short */
	bool pack_written;	/* data written since the last fdatasync */
	uint64_t reserve;	/* host bytes kept free for meta.db (store_room) */
	uint64_t room;		/* host bytes above the reserve at the last
				 * look, less what was handed out since */
	uint64_t pending;	/* bytes of writes in progress: the host
				 * does not count them as used yet */
};

/*
 * Creates a store in directory @path (created if missing; it must be empty
 * unless @force, in which case an old store's files are replaced). Writes
 * the pack header and meta.db with an empty root directory owned by
 * @uid/@gid. Returns 0 or -errno with a one-line reason in @err.
 */
int store_create(const char *path, uint32_t block_size, bool force,
		 uint32_t uid, uint32_t gid, char *err, size_t errlen);

/*
 * Opens the store at @path: takes its exclusive lock (-EBUSY if another
 * process holds it), opens meta.db and the pack, checks that they belong
 * together and loads the slot reference counts (counted from the chunk
 * maps) and which slots have a checksum. Returns 0 or -errno with a
 * one-line reason in @err; on failure nothing is left open.
 */
int store_open(struct store *st, const char *path, bool readonly, char *err,
	       size_t errlen);

/*
 * Checks the store directory (open as @dirfd) and what it holds before
 * anything is opened: no file of the store may be a symbolic link or
 * other than a regular file, nothing may be writable by other users, and
 * a user other than root must own it. Unless @readonly, the files must be
 * writable (else the store is read-only: mount it with -o ro). Returns 0
 * or -errno with a one-line reason in @err (which names @path).
 */
int store_check_files(int dirfd, const char *path, bool readonly, char *err,
		      size_t errlen);

/*
 * Host space. Returns 0 if @need more bytes may be taken from the host
 * filesystem, -ENOSPC if that would leave less than the reserve (a
 * sixteenth of it, 8 MiB to 256 MiB) free: the reserve is kept for meta.db
 * and its journal, so that a commit, and with it the freeing of space,
 * still succeeds on a full disk. With @meta the request is for metadata
 * and may use half of the reserve.
 */
int store_room(struct store *st, uint64_t need, bool meta);

/* Bytes of the host's free space that store_room() keeps back. */
uint64_t store_reserve(struct store *st);

/*
 * Takes the store's lock on an open descriptor of its pack file: the flock
 * that cowfs holds while it runs, and that mkfs and fsck take too. Fails
 * at once with -EBUSY, and the mount point in @mnt, while the store is
 * mounted; waits up to 30 s for a holder that is no longer mounted (a
 * daemon finishing its last commit after an unmount); -EBUSY after that
 * with @mnt empty, or other -errno.
 */
int store_lock(int fd, const char *path, char *mnt, size_t mntlen);

/* Closes everything (rolling back what was not committed). */
void store_close(struct store *st);

static inline uint64_t store_slot_offset(const struct store *st, uint64_t slot)
{
	return slot << st->block_shift;
}

static inline uint32_t store_slot_count(const struct store *st, uint64_t slot)
{
	return slot < st->nslots ? st->refs[slot] & SLOT_COUNT_MASK : 0;
}

/* Was this slot's data cut off the pack before the store was opened? */
static inline bool store_slot_lost(const struct store *st, uint64_t slot)
{
	return slot >= st->lost_from && slot < st->lost_to;
}

/* Invariants (4) and (7): may this slot be written in place? */
static inline bool store_slot_private(const struct store *st, uint64_t slot)
{
	uint32_t r = st->refs[slot];

	return (r & SLOT_COUNT_MASK) == 1 && !(r & SLOT_CSHARED) &&
	       (r & SLOT_HOT);
}

void store_mark_written(struct store *st, uint64_t slot);

/* Records that @slot's data is about to be written (it must be hot). */
static inline void store_note_write(struct store *st, uint64_t slot)
{
	if (!(st->refs[slot] & SLOT_WRITTEN))
		store_mark_written(st, slot);
}

/*
 * Allocates a free slot with count 1, preferring @hint (the slot after the
 * file's previous block, so sequential files stay contiguous). *@zeroed
 * tells whether the slot is known to read as zeros (never written since
 * the pack grew). Returns 0 or -ENOSPC/-ENOMEM.
 */
int store_alloc(struct store *st, uint64_t hint, uint64_t *slot,
		bool *zeroed);

/* Adds one reference to an allocated slot (and marks it shared, inv. 4). */
void store_ref(struct store *st, uint64_t slot);

/* Drops one reference; at zero the slot becomes pending (invariant 5). */
void store_unref(struct store *st, uint64_t slot);

/*
 * Writes into the open transaction what the slots' changes need: the
 * deleted sums of the permits (store_permit_flush) and of the slots freed
 * in the transaction. No counts: they are derived from the chunk maps
 * (invariant 2). Called by the commit before it syncs the pack and
 * commits.
 */
int store_flush(struct store *st);

/* Makes the pack's data durable if anything was written since last time. */
int store_sync(struct store *st);

/*
 * After a successful commit: frees the pending slots (punching their
 * space), updates SLOT_CSHARED and cuts free slots off the pack's tail.
 */
void store_post_commit(struct store *st);

/* The longest sum_delay: half the range of the wrapping stamps. */
#define HOT_AGE_MAX 0x7fffu

/*
 * Checksums (doc/DESIGN.md 1.3). store_quiet_slots() lists up to @max hot
 * slots not written in the open transaction nor in the last sum_delay
 * seconds: their data is what the last commit made durable (and the
 * writer seems done with them), so their sum can be computed without any
 * lock.
 * store_sum_slot() reads and hashes one slot (no lock needed); @direct
 * reads past the host's page cache, for background reads that should
 * neither evict what users read nor queue up behind their reads (@buf
 * must then be aligned to 4096).
 * store_set_sums() (under the lock) records the sums of the slots that
 * are still quiet and were listed in this same transaction (@gen =
 * summed_gen at listing): a write sets SLOT_WRITTEN under the lock before
 * it touches the data, and a commit waits for the writes in flight.
 * Returns how many were recorded, or -errno.
 */
size_t store_quiet_slots(struct store *st, size_t *pos, uint64_t *slots,
			 size_t max);
int store_sum_slot(struct store *st, uint64_t slot, void *buf, bool direct,
		   uint8_t sum[META_SUM_SIZE]);
int store_set_sums(struct store *st, uint64_t gen, const uint64_t *slots,
		   uint8_t (*sums)[META_SUM_SIZE], size_t n);
/*
 * Asks that the private, checksummed @slot may be written in place: its
 * sum row is deleted in the open transaction (by store_permit_flush(), which
 * the caller runs after asking for a batch of slots, before the lock
 * goes), and once that commits the slot is hot. Returns 1 if the caller
 * must wait for a commit (a permit is pending, now or from before), 0 if
 * the slot needs none (hot already, or not private: then it is copied on
 * write), or -ENOMEM.
 */
int store_permit(struct store *st, uint64_t slot);
/*
 * Deletes the sum rows of the slots permitted since the last flush, one
 * statement per run of neighbouring slots. On failure those permits are
 * withdrawn.
 */
int store_permit_flush(struct store *st);

/* How many slots in use have no checksum yet. */
uint64_t store_hot_count(const struct store *st);
/*
 * Reads @len bytes of the pack @fd at @pos into @buf (zeros past its end)
 * and hashes them; 0 or -errno. The daemon's and fsck.cowfs's reader.
 */
int store_hash_block(int fd, uint64_t pos, void *buf, uint32_t len,
		     uint8_t sum[META_SUM_SIZE]);
/* The checksum of @len bytes (XXH3-128, stored big-endian). */
void store_hash(const void *buf, size_t len, uint8_t sum[META_SUM_SIZE]);

/* Data helpers (no lock needed; 0 or -errno). */
int store_copy(struct store *st, uint64_t from, uint64_t to, uint32_t off,
	       uint32_t len);
/* Copies @len bytes between two pack positions, inside the kernel. */
int store_copy_at(struct store *st, uint64_t from_pos, uint64_t to_pos,
		  uint64_t len);
int store_zero(struct store *st, uint64_t slot, uint32_t off, uint32_t len);

#endif
