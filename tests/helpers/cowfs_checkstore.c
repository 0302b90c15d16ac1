/*
 * cowfs_checkstore: check the reference counts of an unmounted store
 * offline, the invariants fsck will check (doc/DESIGN.md section 2).
 *
 *   cowfs_checkstore STORE
 *
 * Opens STORE/meta.db read-only (SQLite replays the committed part of a
 * WAL left by a killed daemon) and checks:
 *   - every chunk map is whole little-endian u64s, at most chunk_blocks of
 *     them, with no trailing hole stored;
 *   - (1) every chunk's refs equals the fmap rows naming it, and is > 0;
 *     every fmap row names an existing chunk and a regular-file inode;
 *   - (2, 3) slot counts are not stored (format 3): a slot's count is the
 *     number of chunk map entries naming it, so what is checked is that
 *     no named slot lies past the end of the pack file, and that a slot
 *     row (a checksum, 16 bytes) exists only for a slot that a map names;
 *   - no inode is an orphan (nlink 0): after a clean unmount there is none.
 *
 * Prints "store invariants hold" on standard output, or one line per
 * violation (at most 20) and then "store invariants violated: N"; a line
 * with the store's counts goes to standard error (tests send it to their
 * .full log). Exits 0 when the invariants hold, 1 when they do not, 2 when
 * the store cannot be read.
 */
#include "config.h"

#include <endian.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "tests/common/helpers.h"

#define MAX_REPORTED 20

static unsigned long nviolations;

static void __attribute__((format(printf, 1, 2))) violation(const char *fmt,
							      ...)
{
	va_list ap;

	if (nviolations++ >= MAX_REPORTED)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* A growable array of u64 (slot numbers named by chunk maps). */
struct vec {
	uint64_t *v;
	size_t n, cap;
};

static void vec_push(struct vec *a, uint64_t x)
{
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 1024;
		a->v = realloc(a->v, a->cap * sizeof(*a->v));
		if (!a->v)
			tst_die(0, "out of memory");
	}
	a->v[a->n++] = x;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		tst_die(0, "%s: %s", sql, sqlite3_errmsg(db));
	return s;
}

static void finish(sqlite3 *db, sqlite3_stmt *s, int rc)
{
	if (rc != SQLITE_DONE)
		tst_die(0, "query: %s", sqlite3_errmsg(db));
	sqlite3_finalize(s);
}

static int64_t super_int(sqlite3 *db, const char *key)
{
	sqlite3_stmt *s = prepare(db, "SELECT value FROM super WHERE key = ?1");
	int64_t v;

	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_ROW)
		tst_die(0, "super.%s is missing", key);
	v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

/* Chunk maps: well formed; collects the slots they name into @named. */
static uint64_t check_chunks(sqlite3 *db, int64_t chunk_blocks,
			     struct vec *named)
{
	sqlite3_stmt *s = prepare(db, "SELECT id, refs, map FROM chunk");
	uint64_t nchunks = 0;
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(s, 0);
		int64_t refs = sqlite3_column_int64(s, 1);
		const unsigned char *blob = sqlite3_column_blob(s, 2);
		int bytes = sqlite3_column_bytes(s, 2);
		int n = bytes / 8;

		nchunks++;
		if (refs <= 0)
			violation("chunk %" PRId64 ": refs %" PRId64, id, refs);
		if (bytes % 8 || n > chunk_blocks) {
			violation("chunk %" PRId64 ": map of %d bytes", id,
				  bytes);
			continue;
		}
		for (int i = 0; i < n; i++) {
			uint64_t le, slot;

			memcpy(&le, blob + 8 * i, 8);
			slot = le64toh(le);
			if (slot)
				vec_push(named, slot);
			else if (i == n - 1)
				violation("chunk %" PRId64
					  ": trailing hole stored",
					  id);
		}
	}
	finish(db, s, rc);
	return nchunks;
}

/* Invariant 1 and the fmap rows' own sanity. */
static uint64_t check_fmap(sqlite3 *db)
{
	sqlite3_stmt *s;
	uint64_t nfmap = 0;
	int rc;

	s = prepare(db, "SELECT c.id, c.refs, (SELECT count(*) FROM fmap f"
			" WHERE f.chunk = c.id) FROM chunk c");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(s, 0);
		int64_t refs = sqlite3_column_int64(s, 1);
		int64_t counted = sqlite3_column_int64(s, 2);

		if (refs != counted)
			violation("chunk %" PRId64 ": refs %" PRId64
				  ", fmap rows naming it %" PRId64,
				  id, refs, counted);
	}
	finish(db, s, rc);

	s = prepare(db, "SELECT f.ino, f.cidx, f.chunk,"
			" c.id IS NULL, i.ino IS NULL, i.mode"
			" FROM fmap f LEFT JOIN chunk c ON c.id = f.chunk"
			" LEFT JOIN inode i ON i.ino = f.ino");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t ino = sqlite3_column_int64(s, 0);
		int64_t cidx = sqlite3_column_int64(s, 1);
		int64_t chunk = sqlite3_column_int64(s, 2);

		nfmap++;
		if (sqlite3_column_int(s, 3))
			violation("fmap (%" PRId64 ", %" PRId64
				  "): missing chunk %" PRId64,
				  ino, cidx, chunk);
		if (sqlite3_column_int(s, 4))
			violation("fmap (%" PRId64 ", %" PRId64
				  "): missing inode",
				  ino, cidx);
		else if (!S_ISREG((mode_t)sqlite3_column_int64(s, 5)))
			violation("fmap (%" PRId64 ", %" PRId64
				  "): inode is not a regular file",
				  ino, cidx);
	}
	finish(db, s, rc);
	return nfmap;
}

/*
 * Invariants 2 and 3: the named slots (their counts) lie in the pack, and
 * checksum rows are only for them. Returns the number of slots in use.
 */
static uint64_t check_slots(sqlite3 *db, struct vec *named, uint64_t pack_slots)
{
	sqlite3_stmt *s = prepare(db, "SELECT id, length(sum) FROM slot"
				      " ORDER BY id");
	uint64_t nused = 0;
	size_t k = 0;
	int rc;

	qsort(named->v, named->n, sizeof(*named->v), cmp_u64);
	for (size_t i = 0; i < named->n; i++) {
		if (i > 0 && named->v[i] == named->v[i - 1])
			continue;
		nused++;
		if (named->v[i] >= pack_slots)
			violation("slot %" PRIu64 ": named by a map, outside the"
				  " pack (%" PRIu64 " slots long)",
				  named->v[i], pack_slots);
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		uint64_t id = (uint64_t)sqlite3_column_int64(s, 0);
		int64_t len = sqlite3_column_int64(s, 1);

		while (k < named->n && named->v[k] < id)
			k++;
		if (k == named->n || named->v[k] != id)
			violation("slot %" PRIu64 ": a checksum row, but no map"
				  " names it",
				  id);
		if (len != 16)
			violation("slot %" PRIu64 ": a checksum of %" PRId64
				  " bytes",
				  id, len);
	}
	finish(db, s, rc);
	return nused;
}

static void check_orphans(sqlite3 *db)
{
	sqlite3_stmt *s = prepare(db, "SELECT ino FROM inode WHERE nlink = 0");
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		violation("inode %" PRId64 ": orphan (nlink 0)",
			  (int64_t)sqlite3_column_int64(s, 0));
	finish(db, s, rc);
}

int main(int argc, char **argv)
{
	char uri[PATH_MAX + 32], pack[PATH_MAX];
	struct vec named = { 0 };
	uint64_t nchunks, nfmap, nslots, pack_slots;
	int64_t bs, chunk_blocks;
	struct stat sb;
	sqlite3 *db;

	if (argc != 2)
		tst_die(0, "usage: cowfs_checkstore STORE");
	snprintf(pack, sizeof(pack), "%s/blocks", argv[1]);
	if (stat(pack, &sb) < 0)
		tst_die(1, "%s", pack);
	snprintf(uri, sizeof(uri), "file:%s/meta.db?mode=ro", argv[1]);
	if (sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI,
			    NULL) != SQLITE_OK)
		tst_die(0, "open %s: %s", uri, sqlite3_errmsg(db));
	sqlite3_busy_timeout(db, 5000);

	bs = super_int(db, "block_size");
	chunk_blocks = super_int(db, "chunk_blocks");
	if (bs <= 0 || chunk_blocks <= 0)
		tst_die(0, "bad super: block_size %" PRId64
			   ", chunk_blocks %" PRId64, bs, chunk_blocks);
	pack_slots = ((uint64_t)sb.st_size + (uint64_t)bs - 1) / (uint64_t)bs;

	nchunks = check_chunks(db, chunk_blocks, &named);
	nfmap = check_fmap(db);
	nslots = check_slots(db, &named, pack_slots);
	check_orphans(db);
	sqlite3_close(db);

	fprintf(stderr,
		"checkstore: %" PRIu64 " fmap rows, %" PRIu64
		" chunks, %zu map entries, %" PRIu64 " slots in use, pack %"
		PRIu64 " slots\n",
		nfmap, nchunks, named.n, nslots, pack_slots);
	free(named.v);
	if (nviolations) {
		printf("store invariants violated: %lu\n", nviolations);
		return 1;
	}
	printf("store invariants hold\n");
	return 0;
}
