/*
 * check.h - the SQL that fsck.cowfs needs: raw scans of every table of
 * meta.db and the row-level repairs, on a connection of its own.
 *
 * meta.h is the daemon's view: it trusts the store, decodes rows into the
 * types the filesystem uses and refuses what it cannot decode. fsck must
 * instead see every row as it is, however wrong, so this interface hands
 * out the stored values as signed 64-bit integers (what SQLite holds) and
 * leaves every judgement to fs/fsck.c. Only the encoding of chunk maps is
 * decoded here, because that format belongs to meta/.
 *
 * Every function returns 0 (or a count) on success and -errno on failure;
 * meta_check_error() then gives SQLite's one-line reason. A scan calls its
 * callback once per row; a non-zero return from the callback stops the scan
 * and is returned. Nothing here is thread-safe.
 */
#ifndef COWFS_META_CHECK_H
#define COWFS_META_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct meta_check;

/*
 * Opens meta.db at @path for checking (@readonly: fsck -n) or for repair,
 * and prepares every statement. Returns 0, or -errno with a one-line
 * reason in @err: -ENOENT no such file, -EINVAL not a cowfs database (a
 * table is missing), -EIO not a database or damaged, -EBUSY locked.
 */
int meta_check_open(const char *path, bool readonly, struct meta_check **out,
		    char *err, size_t errlen);

/* Rolls back an open transaction and closes. NULL is allowed. */
void meta_check_close(struct meta_check *mc);

/* SQLite's message for the last failure on this connection. */
const char *meta_check_error(struct meta_check *mc);

/*
 * Calls @tick about every 100,000 virtual-machine steps of any statement
 * (a long integrity check included), so that a progress display can move.
 * @tick must not use the connection. NULL turns it off.
 */
void meta_check_set_tick(struct meta_check *mc, void (*tick)(void *ctx),
			 void *ctx);

/*
 * Transactions. begin takes the write lock at once when the connection is
 * not read-only, so that everything fsck reads and writes is one
 * transaction.
 */
int meta_check_begin(struct meta_check *mc);
int meta_check_commit(struct meta_check *mc);
int meta_check_rollback(struct meta_check *mc);

/*
 * Runs PRAGMA integrity_check and calls @fn with each problem it reports
 * (at most 100). Returns the number of problems (0: the database is sound)
 * or -errno.
 */
int meta_check_integrity(struct meta_check *mc,
			 int (*fn)(void *ctx, const char *msg), void *ctx);

/* The super rows. A field is valid only if its have_ flag is set. */
struct meta_check_super {
	bool have_format_version, have_block_size, have_chunk_blocks;
	bool have_next_ino;
	int64_t format_version;
	int64_t block_size;
	int64_t chunk_blocks;
	int64_t next_ino;
	int uuid_len;		/* bytes in the uuid blob; -1 if no row */
	uint8_t uuid[16];	/* the first 16 bytes of it */
};
int meta_check_super(struct meta_check *mc, struct meta_check_super *out);

/* Row counts, for a progress display. */
enum meta_check_table {
	MC_INODE,
	MC_DENTRY,
	MC_FMAP,
	MC_CHUNK,
	MC_SLOT,
	MC_TABLE_COUNT
};
int64_t meta_check_count(struct meta_check *mc, enum meta_check_table t);

struct meta_check_inode {
	int64_t ino;
	int64_t mode;
	int64_t nlink;
	int64_t size;
	int64_t linklen;	/* bytes of the symlink target; -1 if NULL */
};
/* Every inode, in inode number order. */
int meta_check_inodes(struct meta_check *mc,
		      int (*fn)(void *ctx, const struct meta_check_inode *in),
		      void *ctx);

struct meta_check_dentry {
	int64_t id;
	int64_t parent;
	int64_t ino;
	const void *name;	/* valid during the callback only */
	size_t namelen;
};
/* Every directory entry, in id order. */
int meta_check_dentries(struct meta_check *mc,
			int (*fn)(void *ctx,
				  const struct meta_check_dentry *de),
			void *ctx);

/*
 * Copies the name of dentry @id into @buf (not terminated, at most @size
 * bytes) and returns its full length; -ENOENT if there is no such row.
 */
int meta_check_dentry_name(struct meta_check *mc, int64_t id, void *buf,
			   size_t size);

/* Returns 1 if @parent has an entry named @name, 0 if not, or -errno. */
int meta_check_dentry_exists(struct meta_check *mc, int64_t parent,
			     const void *name, size_t namelen);

/* Every file map row, in (ino, cidx) order. */
int meta_check_fmaps(struct meta_check *mc,
		     int (*fn)(void *ctx, int64_t ino, int64_t cidx,
			       int64_t chunk),
		     void *ctx);

struct meta_check_chunk {
	int64_t id;
	int64_t refs;
	size_t bytes;		/* stored length of the map blob */
	const uint64_t *map;	/* the bytes / 8 whole entries, decoded
				 * (0 = hole); valid during the callback */
	size_t n;
};
/* Every chunk, in id order, with its map decoded. */
int meta_check_chunks(struct meta_check *mc,
		      int (*fn)(void *ctx, const struct meta_check_chunk *c),
		      void *ctx);

/*
 * Loads the map of chunk @id: *@map (caller frees) gets its whole
 * entries, *@n how many, *@bytes the stored length. -ENOENT if no row.
 */
int meta_check_chunk_map(struct meta_check *mc, int64_t id, uint64_t **map,
			 size_t *n, size_t *bytes);

/*
 * Every slot row, in id order. A row holds a checksum (format 3): slot
 * reference counts are not stored, they are the chunk map entries.
 */
int meta_check_slots(struct meta_check *mc,
		     int (*fn)(void *ctx, int64_t id), void *ctx);

/* Every slot that has a checksum, in id order, with its sum's bytes. */
int meta_check_sums(struct meta_check *mc,
		    int (*fn)(void *ctx, int64_t id, const void *sum,
			      size_t len),
		    void *ctx);

/* Every inode number that has xattr rows but no inode row. */
int meta_check_xattr_orphans(struct meta_check *mc,
			     int (*fn)(void *ctx, int64_t ino), void *ctx);

/*
 * Repairs, in the open transaction. They change exactly the rows named;
 * keeping the references between tables right is the caller's business.
 */
int meta_check_set_next_ino(struct meta_check *mc, int64_t next_ino);
int meta_check_inode_set_nlink(struct meta_check *mc, int64_t ino,
			       int64_t nlink);
int meta_check_inode_set_size(struct meta_check *mc, int64_t ino,
			      int64_t size);
/* Inserts a directory inode (lost+found) with all times @now_ns. */
int meta_check_mkdir(struct meta_check *mc, int64_t ino, uint32_t mode,
		     int64_t nlink, int64_t now_ns);
/* Deletes an inode row with its xattrs and file map rows. */
int meta_check_inode_delete(struct meta_check *mc, int64_t ino);
int meta_check_xattrs_delete(struct meta_check *mc, int64_t ino);
int meta_check_dentry_delete(struct meta_check *mc, int64_t id);
int meta_check_dentry_insert(struct meta_check *mc, int64_t parent,
			     const void *name, size_t namelen, int64_t ino);
int meta_check_fmap_delete(struct meta_check *mc, int64_t ino, int64_t cidx);
int meta_check_chunk_set_refs(struct meta_check *mc, int64_t id,
			      int64_t refs);
/* Stores a map of @n entries, trimming trailing holes. */
int meta_check_chunk_set_map(struct meta_check *mc, int64_t id,
			     const uint64_t *map, size_t n);
int meta_check_chunk_delete(struct meta_check *mc, int64_t id);
/* Deletes a slot's row (its checksum). */
int meta_check_slot_delete(struct meta_check *mc, int64_t id);

#endif
