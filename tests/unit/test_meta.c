/*
 * test_meta.c - unit tests of the SQLite metadata layer (meta/meta.c)
 * through its public API.
 *
 * Each behaviour gets its own database file in a scratch directory, so the
 * tests do not depend on each other. Where a property is about what is on
 * disk (commit, the encoding of chunk maps, the format version), the test
 * closes the struct meta and looks at the file with sqlite3 directly: meta.db
 * runs with exclusive locking, so no second connection can read it while a
 * struct meta has it open.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <sqlite3.h>

#include "fs/util.h"
#include "meta/meta.h"
#include "tests/unit/scratch.h"
#include "tests/unit/tap.h"
#include "tests/unit/sql.h"

#define CHUNK_BLOCKS 4
#define BLOCK_SIZE 4096

static char err[512];
static char poison; /* a non-NULL pointer that failed calls must clear */

static const struct meta_super test_sb = {
	.format_version = META_FORMAT_VERSION,
	.block_size = BLOCK_SIZE,
	.chunk_blocks = CHUNK_BLOCKS,
	.uuid = { 0xc0, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09,
		  0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0xff },
	.next_ino = 2,
};

static struct meta_inode make_inode(uint64_t ino, uint32_t mode)
{
	struct meta_inode in = {
		.ino = ino,
		.mode = mode,
		.uid = 1000 + (uint32_t)ino,
		.gid = 2000 + (uint32_t)ino,
		.nlink = S_ISDIR(mode) ? 2 : 1,
		.rdev = 0,
		.size = 0,
		.atime_ns = 1700000000123456789ll + (int64_t)ino,
		.mtime_ns = 1700000001000000001ll,
		.ctime_ns = 1700000002000000002ll,
		.btime_ns = 1600000000000000000ll,
	};
	return in;
}

/* The path of database @name, in a static buffer (valid until the next). */
static const char *db_path(const char *name)
{
	static char path[PATH_MAX];

	return scratch_path_into(path, "%s.db", name);
}

/* Creates database @name with the root directory and opens it. */
static struct meta *new_db(const char *name)
{
	struct meta_inode root = make_inode(META_ROOT_INO, 040755);
	struct meta *m = NULL;
	int rc;

	rc = meta_create(db_path(name), &test_sb, &root, err, sizeof(err));
	if (rc)
		bail_out("meta_create %s: %s (%d)", name, err, rc);
	rc = meta_open(db_path(name), false, &m, err, sizeof(err));
	if (rc)
		bail_out("meta_open %s: %s (%d)", name, err, rc);
	return m;
}

/* Inserts a regular file or directory inode; bails out on failure. */
static void add_inode(struct meta *m, uint64_t ino, uint32_t mode)
{
	struct meta_inode in = make_inode(ino, mode);
	int rc = meta_inode_insert(m, &in, NULL, 0);

	if (rc)
		bail_out("meta_inode_insert %llu: %d", (unsigned long long)ino,
			 rc);
}

struct pairs {
	int n;
	int stop_after;
	uint64_t a[16], b[16];
};

static int collect_pair(void *ctx, uint64_t a, uint64_t b)
{
	struct pairs *p = ctx;

	if (p->n < 16) {
		p->a[p->n] = a;
		p->b[p->n] = b;
	}
	p->n++;
	return p->stop_after && p->n >= p->stop_after ? 5 : 0;
}

static int collect_slot(void *ctx, uint64_t slot)
{
	return collect_pair(ctx, slot, 0);
}

/* Counts the map entries naming slots 0..7 (and the others). */
struct ref_count {
	unsigned n[8];
	unsigned others;
	unsigned stop_after;	/* stop with 7 after this many entries */
	unsigned seen;
};

static int count_ref(void *ctx, uint64_t slot)
{
	struct ref_count *c = ctx;

	if (slot < 8)
		c->n[slot]++;
	else
		c->others++;
	c->seen++;
	return c->stop_after && c->seen >= c->stop_after ? 7 : 0;
}

static int collect_owner(void *ctx, uint64_t ino, uint64_t block)
{
	return collect_pair(ctx, ino, block);
}

/* --- creating and opening --- */

static void test_create_open(void)
{
	struct meta_inode root = make_inode(META_ROOT_INO, 040755), got;
	const struct meta_super *sb;
	struct meta *m = new_db("create");
	struct meta *m2 = (struct meta *)&poison;
	int rc;

	sb = meta_super(m);
	is_int(sb->format_version, META_FORMAT_VERSION, "open: format version");
	is_int(sb->block_size, BLOCK_SIZE, "open: block size read back");
	is_int(sb->chunk_blocks, CHUNK_BLOCKS, "open: chunk_blocks read back");
	is_int(sb->next_ino, 2, "open: next_ino read back");
	ok(!memcmp(sb->uuid, test_sb.uuid, 16), "open: uuid read back");
	rc = meta_inode_get(m, META_ROOT_INO, &got);
	is_int(rc, 0, "root inode exists after create");
	is_int(got.mode, 040755, "root inode mode");
	is_int(got.nlink, 2, "root inode nlink");
	meta_close(m);

	rc = meta_create(db_path("create"), &test_sb, &root, err, sizeof(err));
	is_int(rc, -EEXIST, "meta_create on an existing file: -EEXIST");

	rc = meta_open(scratch_path("nosuch.db"), false, &m2, err, sizeof(err));
	is_int(rc, -ENOENT, "meta_open of a missing file: -ENOENT");
	ok(m2 == NULL, "meta_open failure leaves *out NULL");
}

static void test_open_exclusive(void)
{
	struct meta *m = new_db("excl"), *m2 = NULL;
	int rc;

	rc = meta_open(db_path("excl"), false, &m2, err, sizeof(err));
	ok(rc < 0, "a second connection is refused while one is open (rc %d)",
	   rc);
	ok(m2 == NULL, "refused second open leaves *out NULL");
	meta_close(m2);
	meta_close(m);
	rc = meta_open(db_path("excl"), false, &m2, err, sizeof(err));
	is_int(rc, 0, "the database opens again after close");
	meta_close(m2);
}

static void test_open_readonly(void)
{
	struct meta *m = new_db("readonly"), *ro = NULL;
	struct meta_inode got, in = make_inode(5, 0100644);
	uint64_t ino = 0;
	int rc;

	add_inode(m, 2, 0100644);
	meta_dentry_insert(m, 1, "f", 2);
	meta_commit(m);
	meta_close(m);
	rc = meta_open(db_path("readonly"), true, &ro, err, sizeof(err));
	is_int(rc, 0, "read-only open of a closed store");
	if (rc) {
		skip(4, "no read-only connection");
		return;
	}
	is_int(meta_dentry_lookup(ro, 1, "f", &ino), 0,
	       "read-only: lookups work");
	is_int(meta_inode_get(ro, ino, &got), 0, "read-only: inode get works");
	is_int(meta_inode_insert(ro, &in, NULL, 0), -EROFS,
	       "read-only: an insert fails with -EROFS");
	is_int(meta_xattr_set(ro, 2, "user.x", "1", 1, 0), -EROFS,
	       "read-only: an xattr set fails with -EROFS");
	meta_close(ro);
}

/* --- inodes --- */

static bool inode_equal(const struct meta_inode *a, const struct meta_inode *b)
{
	return a->ino == b->ino && a->mode == b->mode && a->uid == b->uid &&
	       a->gid == b->gid && a->nlink == b->nlink && a->rdev == b->rdev &&
	       a->size == b->size && a->atime_ns == b->atime_ns &&
	       a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns &&
	       a->btime_ns == b->btime_ns;
}

static void test_inode_insert_get(void)
{
	struct meta *m = new_db("inode");
	struct meta_inode in = make_inode(7, 0100644), got;
	int rc;

	in.size = (1ull << 44) - 1;
	in.rdev = 0x0801;
	in.atime_ns = -1500000000ll; /* before the epoch */
	in.uid = 4294967294u;
	is_int(meta_inode_insert(m, &in, NULL, 0), 0, "inode insert");
	memset(&got, 0xa5, sizeof(got));
	rc = meta_inode_get(m, 7, &got);
	is_int(rc, 0, "inode get");
	ok(inode_equal(&in, &got), "inode get returns every field inserted");
	is_int(meta_inode_insert(m, &in, NULL, 0), -EEXIST,
	       "inserting an existing ino: -EEXIST");
	is_int(meta_inode_get(m, 8, &got), -ENOENT,
	       "get of a missing inode: -ENOENT");
	is_int(meta_inode_count(m), 2, "inode count (root + 1)");
	meta_close(m);
}

static void test_inode_update(void)
{
	struct meta *m = new_db("inode_update");
	struct meta_inode in = make_inode(3, 0100600), got;

	add_inode(m, 3, 0100600);
	add_inode(m, 4, 0100600);
	in.mode = 0100755;
	in.size = 123456789;
	in.nlink = 3;
	in.mtime_ns = 42;
	is_int(meta_inode_update(m, &in), 0, "inode update");
	meta_inode_get(m, 3, &got);
	ok(inode_equal(&in, &got), "update changes the row");
	meta_inode_get(m, 4, &got);
	is_int(got.size, 0, "update leaves other rows alone");
	meta_close(m);
}

static void test_inode_delete(void)
{
	struct meta *m = new_db("inode_delete");
	struct meta_inode got;
	uint32_t refs;
	uint64_t *map, chunk, slots[2] = { 9, 10 };
	uint32_t n;
	char buf[16];
	struct pairs p = { .n = 0 };

	add_inode(m, 5, 0100644);
	add_inode(m, 6, 0100644);
	meta_xattr_set(m, 5, "user.a", "x", 1, 0);
	meta_xattr_set(m, 6, "user.a", "y", 1, 0);
	meta_chunk_insert(m, 1, slots, 2, &chunk);
	meta_fmap_set(m, 5, 0, chunk);
	meta_fmap_set(m, 6, 0, chunk);
	is_int(meta_inode_delete(m, 5), 0, "inode delete");
	is_int(meta_inode_get(m, 5, &got), -ENOENT, "deleted inode is gone");
	is_int(meta_xattr_get(m, 5, "user.a", buf, sizeof(buf)), -ENODATA,
	       "inode delete removes its xattrs");
	is_int(meta_xattr_get(m, 6, "user.a", buf, sizeof(buf)), 1,
	       "inode delete keeps other inodes' xattrs");
	is_int(meta_fmap_load(m, 5, collect_pair, &p), 0, "fmap load");
	is_int(p.n, 0, "inode delete removes its fmap rows");
	meta_fmap_load(m, 6, collect_pair, &p);
	is_int(p.n, 1, "inode delete keeps other inodes' fmap rows");
	is_int(meta_chunk_load(m, chunk, &refs, &map, &n), 0,
	       "inode delete leaves the chunk row");
	free(map);
	is_int(meta_inode_count(m), 2, "inode count after delete");
	meta_close(m);
}

static void test_inode_link(void)
{
	struct meta *m = new_db("link");
	struct meta_inode in = make_inode(9, 0120777);
	char buf[64];
	int rc;

	in.size = 11;
	meta_inode_insert(m, &in, "target/path", 11);
	memset(buf, 0, sizeof(buf));
	rc = meta_link_get(m, 9, buf, sizeof(buf));
	is_int(rc, 11, "link_get returns the target length");
	ok(!memcmp(buf, "target/path", 11), "link_get returns the target");
	rc = meta_link_get(m, 9, buf, 4);
	is_int(rc, 4, "link_get truncates to the buffer");
	is_int(meta_link_get(m, 99, buf, sizeof(buf)), -ENOENT,
	       "link_get of a missing inode: -ENOENT");
	meta_close(m);
}

struct ino_list {
	uint64_t ino[16];
	int n;
};

static int collect_ino(void *ctx, uint64_t ino)
{
	struct ino_list *l = ctx;

	if (l->n < 16)
		l->ino[l->n] = ino;
	l->n++;
	return 0;
}

static void test_orphans(void)
{
	struct meta *m = new_db("orphans");
	struct meta_inode in = make_inode(12, 0100644);
	struct ino_list l = { .n = 0 };

	add_inode(m, 11, 0100644);
	in.nlink = 0;
	meta_inode_insert(m, &in, NULL, 0);
	is_int(meta_orphans(m, collect_ino, &l), 0, "orphans scan");
	is_int(l.n, 1, "exactly one orphan");
	is_int(l.ino[0], 12, "the orphan is the nlink=0 inode");
	meta_close(m);
}

/* --- directory entries --- */

static void test_dentry_insert_lookup(void)
{
	struct meta *m = new_db("dentry");
	uint64_t ino = 0;

	add_inode(m, 2, 0100644);
	add_inode(m, 3, 0100644);
	is_int(meta_dentry_insert(m, 1, "a", 2), 0, "dentry insert");
	is_int(meta_dentry_insert(m, 1, "ab", 3), 0,
	       "dentry insert of a name with a common prefix");
	is_int(meta_dentry_insert(m, 1, "a", 3), -EEXIST,
	       "dentry insert of an existing name: -EEXIST");
	is_int(meta_dentry_lookup(m, 1, "a", &ino), 0, "lookup a");
	is_int(ino, 2, "lookup a finds its inode");
	meta_dentry_lookup(m, 1, "ab", &ino);
	is_int(ino, 3, "lookup ab finds its own inode");
	is_int(meta_dentry_lookup(m, 1, "A", &ino), -ENOENT,
	       "names are case-sensitive");
	is_int(meta_dentry_lookup(m, 2, "a", &ino), -ENOENT,
	       "names are per directory");
	is_int(meta_dentry_insert(m, 1, "\xff\xfe\x01", 2), 0,
	       "a name that is not UTF-8 is accepted");
	ino = 0;
	meta_dentry_lookup(m, 1, "\xff\xfe\x01", &ino);
	is_int(ino, 2, "a name that is not UTF-8 is found again");
	is_int(meta_dentry_delete(m, 1, "a"), 0, "dentry delete");
	is_int(meta_dentry_lookup(m, 1, "a", &ino), -ENOENT,
	       "deleted name is gone");
	is_int(meta_dentry_delete(m, 1, "a"), -ENOENT,
	       "deleting a missing name: -ENOENT");
	meta_close(m);
}

struct dirents {
	int n;
	int stop_after;		/* 0: never stop */
	uint64_t cookie[16];
	uint64_t ino[16];
	uint32_t mode[16];
	char name[16][META_NAME_MAX + 1];
};

static int collect_dirent(void *ctx, const struct meta_dirent *de)
{
	struct dirents *d = ctx;

	if (d->n < 16) {
		d->cookie[d->n] = de->cookie;
		d->ino[d->n] = de->ino;
		d->mode[d->n] = de->mode;
		snprintf(d->name[d->n], sizeof(d->name[0]), "%s", de->name);
	}
	d->n++;
	return d->stop_after && d->n >= d->stop_after ? 7 : 0;
}

/* Lists @dir after @after; returns the names joined by spaces. */
static const char *list_dir(struct meta *m, uint64_t dir, uint64_t after,
			    struct dirents *d)
{
	static char out[512];
	int rc;

	memset(d, 0, sizeof(*d));
	rc = meta_readdir(m, dir, after, collect_dirent, d);
	out[0] = '\0';
	if (rc)
		snprintf(out, sizeof(out), "error %d", rc);
	for (int i = 0; !rc && i < d->n && i < 16; i++) {
		if (i)
			strcat(out, " ");
		strcat(out, d->name[i]);
	}
	return out;
}

static int cookie_of(const struct dirents *d, const char *name)
{
	for (int i = 0; i < d->n && i < 16; i++)
		if (!strcmp(d->name[i], name))
			return (int)d->cookie[i];
	return -1;
}

static void test_readdir_cookies(void)
{
	struct meta *m = new_db("readdir");
	struct dirents d;
	uint64_t c_b, c_d, c_e;
	bool increasing = true;

	add_inode(m, 2, 0100644);
	add_inode(m, 3, 040755);
	add_inode(m, 4, 0120777);
	meta_dentry_insert(m, 1, "b", 2);
	meta_dentry_insert(m, 1, "a", 3);
	meta_dentry_insert(m, 1, "c", 4);
	meta_dentry_insert(m, 1, "d", 2);
	meta_dentry_insert(m, 1, "e", 2);
	meta_dentry_insert(m, 3, "inner", 2);

	is_str(list_dir(m, 1, 0, &d), "b a c d e",
	       "readdir lists in insertion (cookie) order, not by name");
	for (int i = 1; i < d.n; i++)
		increasing &= d.cookie[i] > d.cookie[i - 1];
	ok(increasing && d.cookie[0] > 0, "cookies are positive and increase");
	is_int(d.ino[1], 3, "readdir reports the entry's inode");
	is_int(d.mode[1], 040755, "readdir reports the inode's mode");
	is_int(d.mode[2], 0120777, "readdir reports a symlink's mode");
	c_b = d.cookie[0];
	c_d = d.cookie[3];
	c_e = d.cookie[4];

	is_str(list_dir(m, 1, c_b, &d), "a c d e",
	       "readdir after a cookie resumes after it");
	meta_dentry_delete(m, 1, "c");
	meta_dentry_insert(m, 1, "f", 2);
	is_str(list_dir(m, 1, c_b, &d), "a d e f",
	       "after delete + insert: the same offset resumes correctly");
	is_int(cookie_of(&d, "d"), c_d, "cookie of d unchanged by delete");
	is_int(cookie_of(&d, "e"), c_e, "cookie of e unchanged by insert");
	ok(cookie_of(&d, "f") > (int)c_e, "a new entry gets a higher cookie");

	meta_dentry_delete(m, 1, "b");
	is_str(list_dir(m, 1, c_b, &d), "a d e f",
	       "the cookie of a deleted entry is still a valid offset");

	memset(&d, 0, sizeof(d));
	d.stop_after = 2;
	is_int(meta_readdir(m, 1, 0, collect_dirent, &d), 7,
	       "readdir returns the callback's non-zero value");
	is_int(d.n, 2, "readdir stops when the callback says so");
	is_str(list_dir(m, 1, 0, &d), "a d e f",
	       "a stopped readdir leaves the statement reusable");
	is_str(list_dir(m, 3, 0, &d), "inner", "readdir of another directory");
	is_str(list_dir(m, 2, 0, &d), "", "readdir of an empty directory");
	meta_close(m);
}

static void test_dentry_move(void)
{
	struct meta *m = new_db("move");
	struct dirents d;
	uint64_t ino = 0;
	int c_x;

	add_inode(m, 2, 040755);
	add_inode(m, 3, 0100644);
	add_inode(m, 4, 0100644);
	meta_dentry_insert(m, 1, "dir", 2);
	meta_dentry_insert(m, 1, "x", 3);
	meta_dentry_insert(m, 1, "y", 4);
	meta_dentry_insert(m, 1, "z", 4);
	list_dir(m, 1, 0, &d);
	c_x = cookie_of(&d, "x");

	is_int(meta_dentry_move(m, 1, "x", 1, "x2"), 0, "rename in place");
	is_str(list_dir(m, 1, 0, &d), "dir x2 y z",
	       "renamed entry keeps its place in readdir order");
	is_int(cookie_of(&d, "x2"), c_x, "rename keeps the cookie");
	is_int(meta_dentry_lookup(m, 1, "x", &ino), -ENOENT,
	       "old name is gone after rename");
	is_int(meta_dentry_move(m, 1, "x2", 1, "y"), -EEXIST,
	       "move onto an existing name: -EEXIST");
	meta_dentry_lookup(m, 1, "y", &ino);
	is_int(ino, 4, "a refused move leaves the target alone");
	is_int(meta_dentry_move(m, 1, "nosuch", 1, "q"), -ENOENT,
	       "move of a missing name: -ENOENT");
	is_int(meta_dentry_move(m, 1, "x2", 2, "moved"), 0,
	       "move to another directory");
	ino = 0;
	is_int(meta_dentry_lookup(m, 2, "moved", &ino), 0,
	       "moved entry is found in the new directory");
	is_int(ino, 3, "moved entry names the same inode");
	is_str(list_dir(m, 1, 0, &d), "dir y z",
	       "moved entry left the old directory");

	is_int(meta_dentry_set_ino(m, 1, "y", 3), 0, "set_ino (exchange)");
	meta_dentry_lookup(m, 1, "y", &ino);
	is_int(ino, 3, "set_ino repoints the entry");
	is_int(meta_dentry_set_ino(m, 1, "nosuch", 3), -ENOENT,
	       "set_ino of a missing name: -ENOENT");
	meta_close(m);
}

static void test_dentry_parent(void)
{
	struct meta *m = new_db("parent");
	uint64_t parent = 0;

	add_inode(m, 2, 040755);
	add_inode(m, 3, 0100644);
	add_inode(m, 4, 0100644);
	meta_dentry_insert(m, 1, "d", 2);
	meta_dentry_insert(m, 2, "f", 3);
	is_int(meta_dentry_parent(m, 3, &parent), 0, "dentry_parent");
	is_int(parent, 2, "dentry_parent names the directory");
	meta_dentry_parent(m, 2, &parent);
	is_int(parent, 1, "dentry_parent of a top-level directory is root");
	is_int(meta_dentry_parent(m, 4, &parent), -ENOENT,
	       "dentry_parent of an unlinked inode: -ENOENT");
	meta_dentry_move(m, 2, "f", 1, "f");
	meta_dentry_parent(m, 3, &parent);
	is_int(parent, 1, "dentry_parent follows a move");
	meta_close(m);
}

static void test_dir_is_empty(void)
{
	struct meta *m = new_db("empty");

	add_inode(m, 2, 040755);
	add_inode(m, 3, 0100644);
	is_int(meta_dir_is_empty(m, 2), 1, "new directory is empty");
	meta_dentry_insert(m, 2, "f", 3);
	is_int(meta_dir_is_empty(m, 2), 0, "directory with an entry is not");
	is_int(meta_dir_is_empty(m, 1), 1,
	       "another directory's entry does not count");
	meta_dentry_delete(m, 2, "f");
	is_int(meta_dir_is_empty(m, 2), 1, "empty again after delete");
	meta_close(m);
}

/* --- extended attributes --- */

static void test_xattr_set_flags(void)
{
	struct meta *m = new_db("xattr_flags");
	char buf[32];

	add_inode(m, 2, 0100644);
	is_int(meta_xattr_set(m, 2, "user.new", "v1", 2, XATTR_REPLACE),
	       -ENODATA, "XATTR_REPLACE of a missing name: -ENODATA");
	is_int(meta_xattr_get(m, 2, "user.new", buf, sizeof(buf)), -ENODATA,
	       "a refused REPLACE creates nothing");
	is_int(meta_xattr_set(m, 2, "user.new", "v1", 2, XATTR_CREATE), 0,
	       "XATTR_CREATE of a new name");
	is_int(meta_xattr_set(m, 2, "user.new", "v2", 2, XATTR_CREATE),
	       -EEXIST, "XATTR_CREATE of an existing name: -EEXIST");
	memset(buf, 0, sizeof(buf));
	meta_xattr_get(m, 2, "user.new", buf, sizeof(buf));
	is_str(buf, "v1", "a refused CREATE keeps the old value");
	is_int(meta_xattr_set(m, 2, "user.new", "v3!", 3, XATTR_REPLACE), 0,
	       "XATTR_REPLACE of an existing name");
	memset(buf, 0, sizeof(buf));
	is_int(meta_xattr_get(m, 2, "user.new", buf, sizeof(buf)), 3,
	       "replaced value has the new length");
	is_str(buf, "v3!", "replaced value is the new one");
	is_int(meta_xattr_set(m, 2, "user.any", "a", 1, 0), 0,
	       "flags 0 creates");
	is_int(meta_xattr_set(m, 2, "user.any", "bb", 2, 0), 0,
	       "flags 0 replaces");
	memset(buf, 0, sizeof(buf));
	meta_xattr_get(m, 2, "user.any", buf, sizeof(buf));
	is_str(buf, "bb", "flags 0 replaced the value");
	is_int(meta_xattr_set(m, 2, "user.empty", NULL, 0, 0), 0,
	       "an empty value is accepted");
	is_int(meta_xattr_get(m, 2, "user.empty", buf, sizeof(buf)), 0,
	       "an empty value reads back with length 0");
	is_int(meta_xattr_get(m, 3, "user.any", buf, sizeof(buf)), -ENODATA,
	       "xattrs are per inode");
	meta_close(m);
}

static void test_xattr_get_range(void)
{
	struct meta *m = new_db("xattr_get");
	static const char val[] = { 'a', 0, 'b', 0, (char)0xff, 'c' };
	char buf[16];

	add_inode(m, 2, 0100644);
	meta_xattr_set(m, 2, "user.bin", val, sizeof(val), 0);
	is_int(meta_xattr_get(m, 2, "user.bin", NULL, 0), sizeof(val),
	       "get with size 0 returns the value's length");
	is_int(meta_xattr_get(m, 2, "user.bin", buf, sizeof(val) - 1), -ERANGE,
	       "get into a buffer one byte short: -ERANGE");
	memset(buf, 0x55, sizeof(buf));
	is_int(meta_xattr_get(m, 2, "user.bin", buf, sizeof(val)), sizeof(val),
	       "get into an exact buffer");
	ok(!memcmp(buf, val, sizeof(val)),
	   "binary value with NUL bytes reads back intact");
	is_int((unsigned char)buf[sizeof(val)], 0x55,
	       "get writes nothing past the value");
	is_int(meta_xattr_get(m, 2, "user.none", buf, sizeof(buf)), -ENODATA,
	       "get of a missing name: -ENODATA");
	is_int(meta_xattr_get(m, 2, "user.none", NULL, 0), -ENODATA,
	       "size probe of a missing name: -ENODATA");
	meta_close(m);
}

static void test_xattr_list(void)
{
	struct meta *m = new_db("xattr_list");
	static const char want[] = "trusted.t\0user.a\0user.bb";
	char buf[64];

	add_inode(m, 2, 0100644);
	add_inode(m, 3, 0100644);
	is_int(meta_xattr_list(m, 2, buf, sizeof(buf)), 0,
	       "list of an inode without xattrs is empty");
	is_int(meta_xattr_any(m, 2), 0, "xattr_any: none");
	meta_xattr_set(m, 2, "user.bb", "1", 1, 0);
	meta_xattr_set(m, 2, "trusted.t", "2", 1, 0);
	meta_xattr_set(m, 2, "user.a", "3", 1, 0);
	meta_xattr_set(m, 3, "user.other", "4", 1, 0);
	is_int(meta_xattr_any(m, 2), 1, "xattr_any: some");
	is_int(meta_xattr_list(m, 2, NULL, 0), sizeof(want),
	       "list probe returns the total length");
	memset(buf, 0x55, sizeof(buf));
	is_int(meta_xattr_list(m, 2, buf, sizeof(buf)), sizeof(want),
	       "list returns the total length");
	ok(!memcmp(buf, want, sizeof(want)),
	   "list is NUL-separated, sorted, and only this inode's names");
	is_int(meta_xattr_list(m, 2, buf, sizeof(want) - 1), -ERANGE,
	       "list into a buffer one byte short: -ERANGE");
	is_int(meta_xattr_list(m, 2, buf, sizeof(want)), sizeof(want),
	       "list into an exact buffer");
	meta_close(m);
}

static void test_xattr_remove(void)
{
	struct meta *m = new_db("xattr_remove");
	char buf[8];

	add_inode(m, 2, 0100644);
	meta_xattr_set(m, 2, "user.x", "1", 1, 0);
	meta_xattr_set(m, 2, "user.y", "2", 1, 0);
	is_int(meta_xattr_remove(m, 2, "user.x"), 0, "remove");
	is_int(meta_xattr_get(m, 2, "user.x", buf, sizeof(buf)), -ENODATA,
	       "removed name is gone");
	is_int(meta_xattr_get(m, 2, "user.y", buf, sizeof(buf)), 1,
	       "other names survive a remove");
	is_int(meta_xattr_remove(m, 2, "user.x"), -ENODATA,
	       "remove of a missing name: -ENODATA");
	meta_close(m);
}

/* --- file maps, chunks, slots --- */

static void test_fmap(void)
{
	struct meta *m = new_db("fmap");
	struct pairs p = { .n = 0 };

	add_inode(m, 2, 0100644);
	add_inode(m, 3, 0100644);
	is_int(meta_fmap_set(m, 2, 5, 100), 0, "fmap set");
	meta_fmap_set(m, 2, 0, 101);
	meta_fmap_set(m, 2, 2, 102);
	meta_fmap_set(m, 3, 1, 103);
	is_int(meta_fmap_load(m, 2, collect_pair, &p), 0, "fmap load");
	is_int(p.n, 3, "fmap load sees only this inode's rows");
	ok(p.a[0] == 0 && p.a[1] == 2 && p.a[2] == 5,
	   "fmap rows come in cidx order");
	ok(p.b[0] == 101 && p.b[1] == 102 && p.b[2] == 100,
	   "fmap rows carry their chunks");
	is_int(meta_fmap_set(m, 2, 2, 200), 0, "fmap set of an existing cidx");
	memset(&p, 0, sizeof(p));
	meta_fmap_load(m, 2, collect_pair, &p);
	ok(p.n == 3 && p.b[1] == 200, "fmap set replaces the chunk");
	is_int(meta_fmap_delete(m, 2, 0), 0, "fmap delete");
	memset(&p, 0, sizeof(p));
	meta_fmap_load(m, 2, collect_pair, &p);
	ok(p.n == 2 && p.a[0] == 2, "deleted fmap row is gone");
	memset(&p, 0, sizeof(p));
	p.stop_after = 1;
	is_int(meta_fmap_load(m, 2, collect_pair, &p), 5,
	       "fmap load returns the callback's non-zero value");
	is_int(p.n, 1, "fmap load stops when told");
	meta_close(m);
}

static void test_chunk(void)
{
	struct meta *m = new_db("chunk");
	uint64_t map1[4] = { 5, 0, 7, 0 }, map2[4] = { 8, 9, 10, 11 };
	uint64_t holes[4] = { 0 }, big[1] = { 1ull << 40 };
	uint64_t id1, id2, id3, id4, *map = NULL;
	uint32_t refs = 0, n = 0;

	is_int(meta_chunk_insert(m, 2, map1, 4, &id1), 0, "chunk insert");
	ok(id1 > 0, "chunk insert returns an id");
	is_int(meta_chunk_load(m, id1, &refs, &map, &n), 0, "chunk load");
	is_int(refs, 2, "chunk refs read back");
	is_int(n, 3, "trailing holes are trimmed (4 entries -> 3)");
	ok(map && map[0] == 5 && map[1] == 0 && map[2] == 7,
	   "chunk map reads back, inner hole kept");
	free(map);

	meta_chunk_insert(m, 1, holes, 4, &id2);
	ok(id2 != id1, "a second chunk gets another id");
	is_int(meta_chunk_load(m, id2, &refs, &map, &n), 0,
	       "load an all-hole chunk");
	is_int(n, 0, "an all-hole chunk has length 0");
	free(map);
	meta_chunk_insert(m, 1, NULL, 0, &id3);
	is_int(meta_chunk_load(m, id3, &refs, &map, &n), 0,
	       "load an empty chunk");
	is_int(n, 0, "an empty chunk has length 0");
	free(map);
	meta_chunk_insert(m, 1, big, 1, &id4);
	meta_chunk_load(m, id4, &refs, &map, &n);
	ok(n == 1 && map[0] == 1ull << 40, "a slot number above 2^32 survives");
	free(map);

	is_int(meta_chunk_update(m, id1, 3, map2, 4), 0, "chunk update");
	meta_chunk_load(m, id1, &refs, &map, &n);
	ok(refs == 3 && n == 4 && map[3] == 11, "update changes refs and map");
	free(map);
	map2[2] = map2[3] = 0;
	meta_chunk_update(m, id1, 3, map2, 4);
	meta_chunk_load(m, id1, &refs, &map, &n);
	is_int(n, 2, "update trims trailing holes too");
	free(map);

	is_int(meta_chunk_delete(m, id1), 0, "chunk delete");
	map = (uint64_t *)&poison;
	is_int(meta_chunk_load(m, id1, &refs, &map, &n), -ENOENT,
	       "load of a deleted chunk: -ENOENT");
	ok(map == NULL && n == 0, "failed load leaves *map NULL and *n 0");
	meta_chunk_load(m, id2, &refs, &map, &n);
	is_int(refs, 1, "other chunks survive a delete");
	free(map);
	meta_close(m);
}

static void test_chunk_on_disk(void)
{
	struct meta *m = new_db("chunk_disk");
	char path[PATH_MAX];
	uint64_t map1[4] = { 0x0102030405060708ull, 0, 3, 0 }, id, *map;
	uint32_t refs, n;
	char sql[256];
	int rc;

	scratch_path_into(path, "chunk_disk.db");
	meta_chunk_insert(m, 1, map1, 4, &id);
	meta_commit(m);
	meta_close(m);
	snprintf(sql, sizeof(sql),
		 "SELECT length(map) FROM chunk WHERE id = %llu",
		 (unsigned long long)id);
	is_int(sql_int(path, sql, -1), 24, "stored map is 3 u64 (trimmed)");
	snprintf(sql, sizeof(sql),
		 "SELECT hex(substr(map, 1, 8)) = '0807060504030201'"
		 " FROM chunk WHERE id=%llu",
		 (unsigned long long)id);
	is_int(sql_int(path, sql, -1), 1, "stored map is little-endian");

	/* Corrupt maps: longer than chunk_blocks, or not a multiple of 8. */
	sql_exec(path, "INSERT INTO chunk(id, refs, map) VALUES"
		       " (900, 1, zeroblob(40)), (901, 1, zeroblob(7))");
	rc = meta_open(path, false, &m, err, sizeof(err));
	if (rc)
		bail_out("reopen %s: %s", path, err);
	map = NULL;
	is_int(meta_chunk_load(m, 900, &refs, &map, &n), -EIO,
	       "a map longer than chunk_blocks is refused: -EIO");
	ok(map == NULL, "refused map is not returned");
	is_int(meta_chunk_load(m, 901, &refs, &map, &n), -EIO,
	       "a map of 7 bytes is refused: -EIO");
	meta_close(m);
}

static void test_slot(void)
{
	struct meta *m = new_db("slot");
	struct pairs p = { .n = 0 };
	struct ref_count rc = { .stop_after = 0 };
	uint64_t c1, c2, c3;

	/* Counts: the entries of every chunk map with refs > 0. */
	meta_chunk_insert(m, 1, (uint64_t[]){ 3, 4, 0 }, 3, &c1);
	meta_chunk_insert(m, 2, (uint64_t[]){ 4, 0, 5, 4 }, 4, &c2);
	meta_chunk_insert(m, 1, (uint64_t[]){ 6, 300 }, 2, &c3);
	meta_chunk_update(m, c3, 0, (uint64_t[]){ 6, 300 }, 2);
	is_int(meta_slot_refs(m, count_ref, &rc), 0, "slot refs");
	ok(rc.n[3] == 1 && rc.n[4] == 3 && rc.n[5] == 1,
	   "each map entry is one reference: 1 3 1 (got %u %u %u)", rc.n[3],
	   rc.n[4], rc.n[5]);
	ok(rc.n[0] == 0 && rc.n[6] == 0 && rc.others == 0,
	   "holes and chunks with refs 0 name no slot");
	memset(&rc, 0, sizeof(rc));
	rc.stop_after = 2;
	is_int(meta_slot_refs(m, count_ref, &rc), 7,
	       "a non-zero return stops the walk and is returned");
	is_int(rc.seen, 2, "after that entry");
	meta_chunk_update(m, c3, 1, (uint64_t[]){ 6 }, 1);
	memset(&rc, 0, sizeof(rc));
	meta_slot_refs(m, count_ref, &rc);
	is_int(rc.n[6], 1, "an updated map is counted as it is now");
	meta_chunk_delete(m, c1);
	memset(&rc, 0, sizeof(rc));
	meta_slot_refs(m, count_ref, &rc);
	ok(rc.n[3] == 0 && rc.n[4] == 2, "a deleted chunk names nothing");

	/* Checksums: a row per slot that has one. */
	uint8_t sum[META_SUM_SIZE], sum2[META_SUM_SIZE], got[META_SUM_SIZE];
	uint64_t ids[4];
	uint8_t sums[4][META_SUM_SIZE];

	for (int i = 0; i < META_SUM_SIZE; i++) {
		sum[i] = (uint8_t)(0xa0 + i);
		sum2[i] = (uint8_t)(0x10 + i);
	}
	is_int(meta_slot_get_sum(m, 4, got), 0, "a slot has no sum at first");
	is_int(meta_slot_set_sum(m, 4, sum), 0, "sum set");
	is_int(meta_slot_get_sum(m, 4, got), 1, "sum read back");
	ok(memcmp(sum, got, sizeof(sum)) == 0, "the same 16 bytes");
	is_int(meta_slot_set_sum(m, 4, sum2), 0, "sum set again");
	ok(meta_slot_get_sum(m, 4, got) == 1 &&
		   memcmp(sum2, got, sizeof(sum2)) == 0,
	   "the new sum replaces the old");
	meta_slot_set_sum(m, 3, sum);
	is_int(meta_slot_summed(m, collect_slot, &p), 0, "summed slots");
	ok(p.n == 2 && p.a[0] == 3 && p.a[1] == 4,
	   "listed in slot order: 3 4");
	is_int(meta_slot_sums(m, 0, 4, ids, sums), 2, "two slots with sums");
	ok(ids[0] == 3 && ids[1] == 4, "listed in slot order");
	is_int(meta_slot_sums(m, 4, 4, ids, sums), 1, "listing from slot 4");
	is_int(meta_slot_sums(m, 0, 1, ids, sums), 1, "listing is limited");
	is_int(meta_slot_set_sum(m, 3, NULL), 0, "sum cleared");
	is_int(meta_slot_get_sum(m, 3, got), 0, "cleared sum is gone");
	is_int(meta_slot_set_sum(m, 3, NULL), 0,
	       "clearing a sum that is not there is no error");

	/* Runs: the sums of 150-199 are deleted, and only theirs. */
	for (uint64_t s = 100; s < 260; s += 10)
		meta_slot_set_sum(m, s, sum);
	meta_slot_set_sum(m, 149, sum);
	is_int(meta_slot_clear_sums(m, 150, 50), 0, "run of sums cleared");
	ok(meta_slot_get_sum(m, 149, got) == 1 &&
		   meta_slot_get_sum(m, 150, got) == 0 &&
		   meta_slot_get_sum(m, 190, got) == 0 &&
		   meta_slot_get_sum(m, 200, got) == 1,
	   "the run's sums went, the others stayed");
	p.n = 0;
	meta_slot_summed(m, collect_slot, &p);
	is_int(p.n, 1 + 6 + 6, "4, 100-140 and 149, 200-250 are left");

	/* Owners and paths: /d/f names slot 3 at its block 1025. */
	uint64_t map[2] = { 0, 3 }, cid;
	char path[64];

	add_inode(m, 10, 040755);
	add_inode(m, 11, 0100644);
	meta_dentry_insert(m, 1, "d", 10);
	meta_dentry_insert(m, 10, "f", 11);
	meta_chunk_insert(m, 1, map, 2, &cid);
	meta_fmap_set(m, 11, 1, cid);
	p.n = 0;
	is_int(meta_slot_owners(m, 3, collect_owner, &p, 1024), 0,
	       "owners of slot 3");
	ok(p.n == 1 && p.a[0] == 11 && p.b[0] == 1025,
	   "slot 3 is block 1025 of inode 11");
	p.n = 0;
	meta_slot_owners(m, 99, collect_owner, &p, 1024);
	is_int(p.n, 0, "an unused slot has no owner");
	is_int(meta_path(m, 11, path, sizeof(path)), 0, "path of inode 11");
	is_str(path, "/d/f", "path is /d/f");
	is_int(meta_path(m, 11, path, 4), -ENAMETOOLONG,
	       "a path longer than the buffer: -ENAMETOOLONG");
	is_int(meta_path(m, 1, path, sizeof(path)), 0, "path of the root");
	is_str(path, "/", "the root is /");
	is_int(meta_path(m, 77, path, sizeof(path)), -ENOENT,
	       "an inode with no name: -ENOENT");
	meta_close(m);
	is_int(sql_int(db_path("slot"), "SELECT count(*) FROM slot", -1), 0,
	       "uncommitted slot rows are gone after close");
	diag("a NOT NULL constraint failure is expected:");
	ok(sql_exec(db_path("slot"), "INSERT INTO slot(id) VALUES (9)") !=
		   SQLITE_OK,
	   "a slot row holds a sum (NOT NULL)");
}

/* --- transactions and versions --- */

static void test_commit_persists(void)
{
	struct meta *m = new_db("commit");
	struct meta_inode got;
	uint64_t ino = 0;
	char buf[8];
	int rc;

	add_inode(m, 2, 0100644);
	meta_dentry_insert(m, 1, "kept", 2);
	meta_xattr_set(m, 2, "user.k", "1", 1, 0);
	meta_set_next_ino(m, 3);
	is_int(meta_commit(m), 0, "commit");
	add_inode(m, 3, 0100644);
	meta_dentry_insert(m, 1, "lost", 3);
	meta_xattr_remove(m, 2, "user.k");
	meta_set_next_ino(m, 4);
	is_int(meta_dentry_lookup(m, 1, "lost", &ino), 0,
	       "uncommitted change is visible in the transaction");
	meta_close(m);

	rc = meta_open(db_path("commit"), false, &m, err, sizeof(err));
	if (rc)
		bail_out("reopen: %s", err);
	is_int(meta_dentry_lookup(m, 1, "kept", &ino), 0,
	       "committed dentry survives close and reopen");
	is_int(meta_inode_get(m, 2, &got), 0, "committed inode survives");
	is_int(meta_xattr_get(m, 2, "user.k", buf, sizeof(buf)), 1,
	       "committed xattr survives (its uncommitted removal does not)");
	is_int(meta_dentry_lookup(m, 1, "lost", &ino), -ENOENT,
	       "uncommitted dentry vanished after close without commit");
	is_int(meta_inode_get(m, 3, &got), -ENOENT,
	       "uncommitted inode vanished");
	is_int(meta_super(m)->next_ino, 3,
	       "next_ino is the committed one");
	/* The connection is inside a new transaction after a commit. */
	meta_commit(m);
	add_inode(m, 5, 0100644);
	meta_commit(m);
	meta_close(m);
	is_int(sql_int(db_path("commit"),
		       "SELECT count(*) FROM inode WHERE ino = 5", -1),
	       1, "a second commit on the same connection persists too");
}

/*
 * Makes the store at @path one of format @version with @sql (it rebuilds
 * the slot table: slot 5 with no sum, slot 6 with one in format 2) and
 * checks the upgrade to the current format.
 */
static void test_upgrade(const char *path, int version, const char *sql)
{
	static const uint8_t want[META_SUM_SIZE] = { 0, 1, 2, 3, 4, 5, 6, 7,
						     8, 9, 10, 11, 12, 13, 14,
						     15 };
	uint8_t sum[META_SUM_SIZE];
	char set[128];
	struct meta *m;
	int rc;

	snprintf(set, sizeof(set),
		 "UPDATE super SET value = %d WHERE key = 'format_version'",
		 version);
	if (sql_exec(path, sql) != SQLITE_OK ||
	    sql_exec(path, set) != SQLITE_OK)
		bail_out("cannot make a store of format %d", version);
	rc = meta_open(path, true, &m, err, sizeof(err));
	is_int(rc, -EROFS, "a read-only open of format %d is refused: -EROFS",
	       version);
	ok(strstr(err, "upgrade") != NULL && strstr(err, "version") != NULL,
	   "reason says to upgrade: %s", err);
	rc = meta_open(path, false, &m, err, sizeof(err));
	is_int(rc, 0, "a read-write open of format %d upgrades it", version);
	if (rc == 0) {
		is_int(meta_super(m)->format_version, META_FORMAT_VERSION,
		       "now at the current version");
		is_int(meta_slot_get_sum(m, 5, sum), 0,
		       "a slot without a sum has none");
		if (version == 1)
			is_int(meta_slot_get_sum(m, 6, sum), 0,
			       "format 1 had no sums: none");
		else
			ok(meta_slot_get_sum(m, 6, sum) == 1 &&
				   memcmp(sum, want, sizeof(sum)) == 0,
			   "format 2's sum is kept");
		meta_close(m);
	}
	is_int(sql_int(path, "SELECT value FROM super"
			     " WHERE key = 'format_version'", -1),
	       META_FORMAT_VERSION, "the upgrade from %d is committed", version);
	is_int(sql_int(path, "SELECT count(*) FROM slot", -1), version - 1,
	       "rows are left only for sums (%d)", version - 1);
	ok(sql_int(path, "SELECT count(*) FROM pragma_table_info('slot')", -1) ==
			   2 &&
		   sql_int(path, "SELECT \"notnull\" FROM pragma_table_info('slot')"
				 " WHERE name = 'sum'", -1) == 1,
	   "the slot table is (id, sum NOT NULL), as mkfs makes it");
}

static void test_format_version(void)
{
	struct meta *m = new_db("version"), *m2;
	char path[PATH_MAX];
	int rc;

	scratch_path_into(path, "version.db");
	meta_close(m);
	is_int(sql_exec(path, "UPDATE super SET value = 99"
			      " WHERE key = 'format_version'"),
	       SQLITE_OK, "format_version set to 99 with sqlite3");
	m2 = (struct meta *)&poison;
	err[0] = '\0';
	rc = meta_open(path, false, &m2, err, sizeof(err));
	is_int(rc, -EPROTONOSUPPORT,
	       "meta_open refuses another format version: -EPROTONOSUPPORT");
	ok(m2 == NULL, "refused open leaves *out NULL");
	ok(strstr(err, "version 99") != NULL, "reason names the version: %s",
	   err);
	rc = meta_open(path, true, &m2, err, sizeof(err));
	is_int(rc, -EPROTONOSUPPORT, "read-only open refuses it too");
	sql_exec(path, "UPDATE super SET value = " STR(META_FORMAT_VERSION)
		       " WHERE key = 'format_version'");
	rc = meta_open(path, false, &m2, err, sizeof(err));
	is_int(rc, 0, "the current version opens again");
	meta_close(m2);

	/*
	 * Formats 1 (slot counts, no sums) and 2 (counts and sums): a
	 * read-write open makes the slot table a table of sums.
	 */
	test_upgrade(path, 1,
		     "DROP TABLE slot;"
		     "CREATE TABLE slot(id INTEGER PRIMARY KEY,"
		     " refs INTEGER NOT NULL);"
		     "INSERT INTO slot(id, refs) VALUES (5, 1), (6, 2);");
	test_upgrade(path, 2,
		     "DROP TABLE slot;"
		     "CREATE TABLE slot(id INTEGER PRIMARY KEY,"
		     " refs INTEGER NOT NULL, sum BLOB);"
		     "INSERT INTO slot(id, refs, sum) VALUES (5, 1, NULL),"
		     " (6, 2, x'000102030405060708090a0b0c0d0e0f');");

	sql_exec(path, "DELETE FROM super WHERE key = 'chunk_blocks'");
	rc = meta_open(path, false, &m2, err, sizeof(err));
	is_int(rc, -EINVAL, "a store without chunk_blocks is refused: -EINVAL");
	meta_close(m2);
}

static void test_not_a_store(void)
{
	char path[PATH_MAX];
	struct meta *m;
	int rc;

	scratch_path_into(path, "plain.db");
	sql_exec(path, "CREATE TABLE t(x)");
	rc = meta_open(path, false, &m, err, sizeof(err));
	ok(rc < 0 && m == NULL, "a SQLite file without the schema is refused");
	ok(strstr(err, "not a cowfs store") != NULL, "reason: %s", err);
}

int main(void)
{
	scratch_init("test_meta");
	test_create_open();
	test_open_exclusive();
	test_open_readonly();
	test_inode_insert_get();
	test_inode_update();
	test_inode_delete();
	test_inode_link();
	test_orphans();
	test_dentry_insert_lookup();
	test_readdir_cookies();
	test_dentry_move();
	test_dentry_parent();
	test_dir_is_empty();
	test_xattr_set_flags();
	test_xattr_get_range();
	test_xattr_list();
	test_xattr_remove();
	test_fmap();
	test_chunk();
	test_chunk_on_disk();
	test_slot();
	test_commit_persists();
	test_format_version();
	test_not_a_store();
	scratch_cleanup();
	return done_testing();
}
