/*
 * meta.h - the SQLite metadata layer: the only code in cowfs that holds SQL.
 *
 * One struct meta wraps one connection to STORE/meta.db. The schema is in
 * doc/DESIGN.md section 1.2. Every function returns 0 (or a count) on
 * success and -errno on failure; SQLite result codes are mapped to errno in
 * one place (meta_errno). None of these functions is thread-safe: the caller
 * serialises all calls on one struct meta (cowfs holds fs->lock).
 *
 * The connection is always inside a transaction once meta_open() returns:
 * changes accumulate until meta_commit(), which commits and begins the next.
 */
#ifndef COWFS_META_H
#define COWFS_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define META_FORMAT_VERSION 3
#define META_SUM_SIZE 16	/* XXH3-128 of a slot's bytes */
#define META_ROOT_INO 1
#define META_NAME_MAX 255
#define META_XATTR_NAME_MAX 255
#define META_XATTR_SIZE_MAX 65536

struct meta;

/*
 * Maps an SQLite result code to 0 or -errno (FULL to ENOSPC, READONLY to
 * EROFS, CORRUPT, IOERR and the unexpected to EIO): the one place that
 * knows SQLite's codes, for meta.c and check.c.
 */
int meta_sqlite_errno(int rc);

/*
 * Opens the SQLite database @path (never through a symbolic link) for
 * meta.c and check.c. Read-only, and with no -wal file beside it, it is
 * opened immutable: no -shm file is needed, so a store on a read-only
 * directory or mount can be read. The caller holds the store's lock.
 * Returns an SQLite result code; *@db may be set even on failure.
 */
struct sqlite3;
int meta_sqlite_open(const char *path, bool readonly, struct sqlite3 **db);

/*
 * For an open of @path that failed read-only: if a journal (-wal file)
 * is waiting to be applied, which a read-only store cannot do, writes a
 * reason to @err and returns true.
 */
bool meta_journal_blocks(const char *path, char *err, size_t errlen);

struct meta_super {
	uint32_t format_version;
	uint32_t block_size;
	uint32_t chunk_blocks;
	uint8_t uuid[16];
	uint64_t next_ino;
};

struct meta_inode {
	uint64_t ino;
	uint32_t mode;
	uint32_t uid;
	uint32_t gid;
	uint32_t nlink;
	uint64_t rdev;
	uint64_t size;
	int64_t atime_ns;
	int64_t mtime_ns;
	int64_t ctime_ns;
	int64_t btime_ns;
};

/*
 * Creates meta.db at @path with the schema, the super rows from @sb and the
 * root inode @root, and commits. Fails with -EEXIST if the file exists.
 * On failure a reason is written to @err.
 */
int meta_create(const char *path, const struct meta_super *sb,
		const struct meta_inode *root, char *err, size_t errlen);

/*
 * Opens an existing meta.db and begins a transaction. Checks that it is a
 * cowfs store of a format version this program reads. @readonly opens it
 * read-only (fsck -n). On failure returns -errno, writes a one-line reason
 * to @err and *@out is NULL.
 */
int meta_open(const char *path, bool readonly, struct meta **out, char *err,
	      size_t errlen);

/* Rolls back what was not committed and closes. NULL is allowed. */
void meta_close(struct meta *m);

const struct meta_super *meta_super(const struct meta *m);

/* Commits the open transaction and begins the next one. */
int meta_commit(struct meta *m);

/* Persists super.next_ino (in the open transaction). */
int meta_set_next_ino(struct meta *m, uint64_t next_ino);

/* Inodes. get returns -ENOENT if there is no such inode. */
int meta_inode_get(struct meta *m, uint64_t ino, struct meta_inode *out);
int meta_inode_insert(struct meta *m, const struct meta_inode *in,
		      const void *link, size_t linklen);
int meta_inode_update(struct meta *m, const struct meta_inode *in);
/* Deletes the inode row, its xattrs and its fmap rows (not the chunks). */
int meta_inode_delete(struct meta *m, uint64_t ino);
/* Reads a symlink target into @buf; returns its length or -errno. */
int meta_link_get(struct meta *m, uint64_t ino, char *buf, size_t size);
/*
 * Calls @fn for every orphan: an inode with nlink = 0 and no name (a name
 * with nlink = 0 is damage for fsck, not an orphan). Stops on non-zero.
 */
int meta_orphans(struct meta *m, int (*fn)(void *ctx, uint64_t ino),
		 void *ctx);
/* Number of inodes (statfs). */
int64_t meta_inode_count(struct meta *m);

/* Directory entries. Names are byte strings of 1..255 bytes. */
int meta_dentry_lookup(struct meta *m, uint64_t parent, const char *name,
		       uint64_t *ino);
int meta_dentry_insert(struct meta *m, uint64_t parent, const char *name,
		       uint64_t ino);
int meta_dentry_delete(struct meta *m, uint64_t parent, const char *name);
/* Moves an entry, keeping its readdir cookie. The target must not exist. */
int meta_dentry_move(struct meta *m, uint64_t parent, const char *name,
		     uint64_t newparent, const char *newname);
/* Points an existing entry at another inode (RENAME_EXCHANGE). */
int meta_dentry_set_ino(struct meta *m, uint64_t parent, const char *name,
			uint64_t ino);
/* The directory holding the (first) name of @ino: -ENOENT if none. */
int meta_dentry_parent(struct meta *m, uint64_t ino, uint64_t *parent);
/* Returns 1 if the directory has no entries, 0 if it has, or -errno. */
int meta_dir_is_empty(struct meta *m, uint64_t dir);

struct meta_dirent {
	uint64_t cookie;
	uint64_t ino;
	uint32_t mode;
	const char *name; /* valid during the callback only */
};
/*
 * Calls @fn for the entries of @dir whose cookie is above @after, in cookie
 * order, until @fn returns non-zero (which is then returned) or the entries
 * end (0).
 */
int meta_readdir(struct meta *m, uint64_t dir, uint64_t after,
		 int (*fn)(void *ctx, const struct meta_dirent *de),
		 void *ctx);

/* Extended attributes. flags are XATTR_CREATE / XATTR_REPLACE. */
int meta_xattr_get(struct meta *m, uint64_t ino, const char *name, void *buf,
		   size_t size);
int meta_xattr_set(struct meta *m, uint64_t ino, const char *name,
		   const void *value, size_t size, int flags);
int meta_xattr_remove(struct meta *m, uint64_t ino, const char *name);
/* Writes the NUL-separated name list; returns its length (size 0: probe). */
int meta_xattr_list(struct meta *m, uint64_t ino, char *buf, size_t size);
/* Returns 1 if the inode has any xattr, 0 if none, or -errno. */
int meta_xattr_any(struct meta *m, uint64_t ino);

/* File maps: which chunk holds the file's chunk index cidx. */
int meta_fmap_load(struct meta *m, uint64_t ino,
		   int (*fn)(void *ctx, uint64_t cidx, uint64_t chunk),
		   void *ctx);
int meta_fmap_set(struct meta *m, uint64_t ino, uint64_t cidx, uint64_t chunk);
int meta_fmap_delete(struct meta *m, uint64_t ino, uint64_t cidx);

/*
 * Chunks. A map is an array of @n slot numbers (0 = hole); it is stored
 * little-endian with trailing holes trimmed. chunk_load allocates *@map
 * (caller frees) and sets *@n to the stored length.
 */
int meta_chunk_load(struct meta *m, uint64_t id, uint32_t *refs,
		    uint64_t **map, uint32_t *n);
int meta_chunk_insert(struct meta *m, uint32_t refs, const uint64_t *map,
		      uint32_t n, uint64_t *id);
int meta_chunk_update(struct meta *m, uint64_t id, uint32_t refs,
		      const uint64_t *map, uint32_t n);
int meta_chunk_delete(struct meta *m, uint64_t id);

/*
 * Slots. Their reference counts are not stored (format 3): a slot's count
 * is the number of chunk map entries naming it (invariant 2), and
 * meta_slot_refs() calls @fn once per such entry, of every chunk with
 * refs > 0, in no particular order, with one statement and no allocation
 * (the whole entries of a damaged map included). A slot row holds only a
 * checksum: meta_slot_summed() calls @fn with every slot that has one, in
 * order. Both stop on a non-zero return from @fn and return it.
 */
int meta_slot_refs(struct meta *m, int (*fn)(void *ctx, uint64_t slot),
		   void *ctx);
int meta_slot_summed(struct meta *m, int (*fn)(void *ctx, uint64_t slot),
		     void *ctx);
/* Deletes the sums of slots @first .. @first + @n - 1 (rows or not). */
int meta_slot_clear_sums(struct meta *m, uint64_t first, uint64_t n);
/* Sets (or with @sum NULL deletes) a slot's checksum. */
int meta_slot_set_sum(struct meta *m, uint64_t slot,
		      const uint8_t sum[META_SUM_SIZE]);
/* 1 and the sum, 0 if the slot has none, or -errno. */
int meta_slot_get_sum(struct meta *m, uint64_t slot,
		      uint8_t sum[META_SUM_SIZE]);
/*
 * Up to @max slots numbered @from or more that have a checksum, in order,
 * into @slots and @sums. Returns how many, or -errno.
 */
int meta_slot_sums(struct meta *m, uint64_t from, uint32_t max,
		   uint64_t *slots, uint8_t (*sums)[META_SUM_SIZE]);
/*
 * Calls @fn(ctx, ino, block) for every file block that names @slot (a
 * scan of every chunk: for reporting damage, not for a hot path). A
 * non-zero return from @fn stops the walk and is returned.
 */
int meta_slot_owners(struct meta *m, uint64_t slot,
		     int (*fn)(void *ctx, uint64_t ino, uint64_t block),
		     void *ctx, uint32_t chunk_blocks);
/*
 * The path of inode @ino from the root ("/a/b"), by its first name;
 * -ENOENT if it has none (unlinked), -ENAMETOOLONG if it does not fit.
 */
int meta_path(struct meta *m, uint64_t ino, char *buf, size_t size);

#endif
