/*
 * fsck.c - fsck.cowfs: offline check and repair of a cowfs store.
 *
 *	fsck.cowfs [-n|-y|-p] [-f] [--progress|--no-progress] STORE
 *
 * How it works. fsck takes the store's lock (the flock on STORE/blocks
 * that the daemon holds while it runs), checks the pack header and SQLite's
 * own integrity, and then reads every table of meta.db into memory, in an
 * order that lets each phase decide from what the earlier ones decided:
 *
 *  1. inodes;
 *  2. names: every entry must name a live inode from a directory; the
 *     directory graph must be a tree from the root (inode 1) in which each
 *     directory has one name; what is not reachable is reconnected into
 *     /lost+found as "#ino", and an inode with no name and nlink 0 (an
 *     orphan, unlinked while open before a crash) is deleted; then nlink;
 *  3. file maps (fmap rows), which must belong to regular files;
 *  4. chunks, joined with the fmap rows: invariant (1), refs = the number
 *     of rows naming the chunk; a chunk no row names is leaked; the map
 *     blob must decode; a slot past the end of the pack is lost data;
 *  5. blocks past the end of the pack (lost data, named by file and
 *     block) and blocks past a file's size, which must read as zeros
 *     (fallocate -k maps zeroed blocks there; data there breaks
 *     invariant (6));
 *  6. slots: their counts are the chunk map entries (invariants (2) and
 *     (3) hold by construction); a checksum row must belong to a slot
 *     that a kept entry names, and a stale one is deleted;
 *  7. xattrs of missing inodes, next_ino.
 *
 * Each phase compares the store as it is with what the references say,
 * and reports every difference as one line. Repairs are decided in the
 * same pass, as changes to the in-memory model, so that a later phase
 * sees the result of the earlier repairs: if a chunk is deleted, the slots
 * it named lose those references. Counts are therefore kept twice: "orig"
 * as the store holds them now (what a finding is about) and "kept" after
 * the repairs decided so far (what is written). A change that follows
 * only from an earlier repair (a chunk's count, the checksum of a slot
 * that the repair frees) is written without a finding, just as the
 * daemon would have made it.
 *
 * With -n the model is repaired too, but nothing is written: -n and -y
 * print the same findings. With -y every change is written in ONE
 * transaction, the freed slots are punched after it commits, and then the
 * whole check runs again and must find nothing. -p applies only the safe
 * repairs (reference counts, leaked chunks, stale checksums, orphans,
 * nlink, next_ino, stale blocks past a file's end) and leaves the rest for -y,
 * as e2fsck -p does.
 *
 * Exit status as fsck(8): 0 clean, 1 errors corrected, 4 errors left,
 * 8 operational error, 16 usage error.
 *
 * Known limits: the model holds every inode, name, file map row and chunk
 * (about 64, 48, 32 and 32 bytes each) and one 8-byte word per mapped
 * block, so a store of 10 million files needs about 1.5 GB. A slot that is
 * only partly inside a truncated pack is treated as lost, not kept. Data
 * is read only for blocks mapped past a file's size; the bytes past the
 * size inside a file's last block (the rest of invariant (6)) are not
 * read, which would cost a read per file.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <linux/falloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <endian.h>

#include "fs/store.h"
#include "fs/util.h"
#include "meta/check.h"

#define FSCK_OK 0
#define FSCK_CORRECTED 1
#define FSCK_UNCORRECTED 4
#define FSCK_ERROR 8
#define FSCK_USAGE 16

#define NONE ((size_t)-1)
#define LOST_FOUND "lost+found"

/* The pack header, doc/DESIGN.md section 1.1. */
#define PACK_HDR_VERSION 8
#define PACK_HDR_BLOCK_SIZE 12
#define PACK_HDR_UUID 16
#define PACK_HDR_LEN 32

enum mode {
	MODE_CHECK,		/* -n */
	MODE_REPAIR,		/* -y */
	MODE_PREEN,		/* -p */
};

/* How a finding can be repaired. */
enum fix {
	FIX_SAFE,		/* also by -p */
	FIX_UNSAFE,		/* only by -y: changes what a user sees */
	FIX_NONE,		/* not at all */
};

/* Inode flags. */
#define I_REACHED 0x01		/* reached from the root (or handled) */
#define I_DELETE 0x02		/* to be deleted */
#define I_NEW 0x04		/* created by the repair (lost+found) */
#define I_NLINK_W 0x08		/* nlink to be written */
#define I_SIZE_W 0x10		/* size to be written */
#define I_HAS_CHILD 0x20	/* some entry names it as its parent */
#define I_INVALID 0x40		/* a row with an impossible number */

struct f_inode {
	int64_t ino;
	int64_t nlink;
	int64_t size;
	int64_t pdent;		/* the name it is reached by: i + 1 for
				 * dent[i], -(i + 1) for newdent[i], 0 none */
	uint64_t maxblk;	/* highest mapped block + 1 */
	uint32_t mode;
	uint32_t names;		/* entries naming it */
	uint32_t subdirs;	/* entries in it naming directories */
	uint32_t stamp;		/* marks a walk up (lost directories) */
	uint16_t flags;
};

/* Why an entry is wrong. */
enum bad {
	BAD_NONE,
	BAD_NOCHILD,		/* names a missing inode */
	BAD_NOPARENT,		/* in a missing directory */
	BAD_NOTDIR,		/* in something not a directory */
	BAD_ROOT,		/* names the root */
	BAD_NAME,		/* empty, too long, "/", NUL, "." or ".." */
	BAD_GONE,		/* names an inode this repair deletes */
};

#define D_DROP 0x01		/* to be deleted */
#define D_LFNAME 0x02		/* "lost+found" in the root */

struct f_dent {
	int64_t id;
	int64_t parent;
	int64_t ino;
	size_t ci, pi;		/* child and parent in f->in, or NONE */
	uint8_t flags;
	uint8_t bad;
};

/* An entry the repair adds (into lost+found). */
struct f_newdent {
	int64_t parent;
	int64_t ino;
	char name[40];
};

#define F_DROP 0x01		/* to be deleted */
#define F_NOCHUNK 0x02		/* names a missing chunk */

struct f_fmap {
	int64_t ino;
	int64_t cidx;
	int64_t chunk;
	size_t cpos;		/* the chunk in f->ch, or NONE */
	uint8_t flags;
};

#define C_DELETE 0x01
#define C_REWRITE 0x02		/* the map must be rewritten */

struct f_chunk {
	int64_t id;
	int64_t refs;
	uint32_t kept;		/* fmap rows naming it after the repair */
	uint32_t lastkept;	/* last mapped entry + 1 after the repair */
	uint8_t flags;
};

/* A block of a chunk that is past the end of the pack. */
struct f_pastend {
	size_t cpos;
	uint32_t idx;
};

struct vec {
	void *p;
	size_t n, cap;
};

struct progress {
	bool on;		/* allowed: a terminal, or --progress */
	bool forced;		/* --progress: no delay */
	bool shown;		/* a progress line is on the screen */
	const char *phase;
	uint64_t total, done;
	int64_t t0, last;
};

struct fsck {
	const char *store;
	enum mode mode;
	bool write;		/* write repairs to the store */
	bool recheck;		/* the check after a repair */
	bool apply_unsafe;	/* unsafe repairs go into the model */
	int dirfd, packfd;
	struct meta_check *mc;
	struct progress prog;

	/* From the header and the super rows. */
	uint32_t bs;
	uint64_t cblocks;	/* chunk_blocks */
	uint64_t pack_size, pack_slots;
	struct meta_check_super sb;

	/* What was found. */
	uint64_t found, fixed, left, orphans, orphans_deleted;

	/* The model. */
	struct f_inode *in;
	size_t nin, incap;
	struct f_dent *de;
	size_t nde, decap;
	size_t *by_ino;		/* indices of de[] sorted by (ino, id) */
	struct vec newdent;	/* struct f_newdent */
	struct f_fmap *fm;
	size_t nfm, fmcap;
	struct vec ch;		/* struct f_chunk */
	struct vec kept;	/* uint64_t slot numbers named after repair */
	struct vec removed;	/* uint64_t ... named now, not after */
	struct vec pastend;	/* struct f_pastend */
	struct vec sumdel;	/* int64_t slot rows (checksums) to delete */
	struct vec punch;	/* uint64_t slots freed by the repair */
	struct vec xorph;	/* int64_t inodes with stray xattrs */
	struct vec unmap;	/* struct eof_block: entries to unmap */
	bool scrub;		/* --scrub: read every checksummed slot */
	uint64_t scrubbed;	/* slots read and compared */
	struct vec damaged;	/* uint64_t slots whose data fails its sum */
	struct vec damaged_blocks; /* struct lost_block: where they are */
	unsigned char *zbuf;	/* one block, for slot_is_zero() */
	size_t root;		/* index of inode 1, NONE if unusable */
	size_t lf;		/* lost+found, NONE until looked for */
	bool lf_looked, lf_ok;
	int64_t max_ino, next_ino;
	uint32_t stamp;
	uint64_t slots_used, inodes_live;
	size_t scan_pos;	/* merge position of a scan */
	size_t kp, rp;		/* merge positions in kept/removed */
};

/* --- progress --- */

static void prog_clear(struct fsck *f)
{
	if (f->prog.shown) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
		f->prog.shown = false;
	}
}

static void prog_draw(struct fsck *f, bool force)
{
	struct progress *p = &f->prog;
	int64_t now = mono_ns();

	if (!p->on || !p->phase)
		return;
	if (!p->forced && now - p->t0 < 1000000000)
		return;
	if (!force && now - p->last < 200000000)
		return;
	p->last = now;
	if (p->total)
		fprintf(stderr, "\r\033[K%s: %s: %3u%%", util_progname,
			p->phase,
			(unsigned)(MIN(p->done, p->total) * 100 / p->total));
	else
		fprintf(stderr, "\r\033[K%s: %s...", util_progname, p->phase);
	fflush(stderr);
	p->shown = true;
}

static void prog_phase(struct fsck *f, const char *phase,
		       enum meta_check_table t)
{
	int64_t n = 0;

	if (!f->prog.on)
		return;
	if (f->mc && (int)t >= 0 && t < MC_TABLE_COUNT)
		n = meta_check_count(f->mc, t);
	f->prog.phase = phase;
	f->prog.total = n > 0 ? (uint64_t)n : 0;
	f->prog.done = 0;
	prog_draw(f, true);
}

static inline void prog_step(struct fsck *f)
{
	if (f->prog.on && (++f->prog.done & 1023) == 0)
		prog_draw(f, false);
}

static void prog_tick(void *ctx)
{
	prog_draw(ctx, false);
}

/* --- output --- */

static bool can_apply(const struct fsck *f, enum fix cls)
{
	if (f->recheck || cls == FIX_NONE)
		return false;
	return !(f->mode == MODE_PREEN && cls == FIX_UNSAFE);
}

/*
 * Reports one finding, with @fix saying how it is repaired. Returns true
 * if the repair goes into the model (always for -n, which simulates -y,
 * so that the findings after it are those -y would print).
 */
static bool __attribute__((format(printf, 4, 5)))
problem(struct fsck *f, enum fix cls, const char *fix, const char *fmt, ...)
{
	bool apply = can_apply(f, cls);
	char line[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	prog_clear(f);
	f->found++;
	if (f->recheck) {
		printf("%s: still wrong after the repair: %s\n", util_progname,
		       line);
	} else if (f->mode == MODE_CHECK) {
		printf("%s: %s\n", util_progname, line);
		f->left++;
	} else if (apply) {
		printf("%s: %s; %s\n", util_progname, line, fix);
		f->fixed++;
	} else {
		printf("%s: %s; %s\n", util_progname, line,
		       cls == FIX_NONE ? "cannot be repaired"
				       : "not repaired by -p (run fsck.cowfs -y)");
		f->left++;
	}
	return apply;
}

/* An orphan: not an error; the daemon deletes it at the next mount. */
static bool orphan(struct fsck *f, const char *desc)
{
	bool apply = can_apply(f, FIX_SAFE);

	prog_clear(f);
	if (f->recheck) {
		printf("%s: still wrong after the repair: %s is an orphan\n",
		       util_progname, desc);
		f->found++;
		return false;
	}
	f->orphans++;
	if (f->mode == MODE_CHECK) {
		printf("%s: %s is an orphan (no name, nlink 0: unlinked while open before a crash); the next mount deletes it\n",
		       util_progname, desc);
	} else {
		printf("%s: %s is an orphan (no name, nlink 0: unlinked while open before a crash); deleted\n",
		       util_progname, desc);
		f->orphans_deleted++;
	}
	return apply;
}

/* An operational error: one line on stderr. */
static void __attribute__((format(printf, 2, 3)))
fail(struct fsck *f, const char *fmt, ...)
{
	char line[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	prog_clear(f);
	fflush(stdout);
	log_msg("%s", line);
}

/* --- small containers --- */

static void *vec_push(struct vec *v, size_t size)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 64;
		void *p = realloc(v->p, cap * size);

		if (!p)
			return NULL;
		v->p = p;
		v->cap = cap;
	}
	return (char *)v->p + v->n++ * size;
}

static void vec_free(struct vec *v)
{
	free(v->p);
	memset(v, 0, sizeof(*v));
}

static int push_u64(struct vec *v, uint64_t x)
{
	uint64_t *p = vec_push(v, sizeof(x));

	if (!p)
		return -ENOMEM;
	*p = x;
	return 0;
}

#define VEC_AT(v, type, i) (((type *)(v).p)[i])

/* --- names and paths --- */

/* Writes a name with unprintable bytes and backslashes as \xHH. */
static void escape(const unsigned char *s, size_t len, char *out,
		   size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o + 5 < size; i++) {
		if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\')
			out[o++] = (char)s[i];
		else
			o += (size_t)snprintf(out + o, size - o, "\\x%02x",
					      s[i]);
	}
	out[o] = '\0';
}

/* The name of dent[k] (as stored), escaped. */
static void dent_name(struct fsck *f, size_t k, char *out, size_t size)
{
	unsigned char raw[META_NAME_MAX + 1];
	int len = meta_check_dentry_name(f->mc, f->de[k].id, raw, sizeof(raw));

	if (len < 0) {
		snprintf(out, size, "?");
		return;
	}
	escape(raw, MIN((size_t)len, sizeof(raw)), out, size);
	if ((size_t)len > sizeof(raw) && size > 4)
		strcat(out + MIN(strlen(out), size - 4), "...");
}

/*
 * The first index in [0, @n) whose key (@key_at) is not below @key, for
 * arrays of the model kept sorted by that key; @n if none.
 */
static size_t lower_bound(const struct fsck *f, size_t n, int64_t key,
			  int64_t (*key_at)(const struct fsck *f, size_t i))
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (key_at(f, mid) < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int64_t inode_key(const struct fsck *f, size_t i)
{
	return f->in[i].ino;
}

static size_t find_inode(const struct fsck *f, int64_t ino)
{
	size_t lo = lower_bound(f, f->nin, ino, inode_key);

	if (lo < f->nin && f->in[lo].ino == ino &&
	    !(f->in[lo].flags & I_INVALID))
		return lo;
	return NONE;
}

static bool is_dir(const struct fsck *f, size_t i)
{
	return i != NONE && S_ISDIR(f->in[i].mode);
}

/*
 * The path of inode @i through the names it was reached by; false if it
 * has none (not reachable). Very deep paths lose their head to "...".
 */
static bool path_of(struct fsck *f, size_t i, char *buf, size_t size)
{
	char *p = buf + size - 1;
	int depth = 0;

	*p = '\0';
	while (f->in[i].ino != META_ROOT_INO) {
		int64_t pd = f->in[i].pdent;
		char esc[4 * META_NAME_MAX + 8];
		int64_t parent;
		size_t len;

		if (pd == 0 || ++depth > 4096)
			return false;
		if (pd > 0) {
			dent_name(f, (size_t)(pd - 1), esc, sizeof(esc));
			parent = f->de[pd - 1].parent;
		} else {
			struct f_newdent *nd =
				&VEC_AT(f->newdent, struct f_newdent, -pd - 1);

			snprintf(esc, sizeof(esc), "%s", nd->name);
			parent = nd->parent;
		}
		len = strlen(esc);
		if ((size_t)(p - buf) < len + 1 + 4) {
			p -= 3;
			memcpy(p, "...", 3);
			break;
		}
		p -= len;
		memcpy(p, esc, len);
		*--p = '/';
		i = find_inode(f, parent);
		if (i == NONE)
			return false;
	}
	if (!*p)
		*--p = '/';
	memmove(buf, p, strlen(p) + 1);
	return true;
}

static const char *type_name(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return "file";
	case S_IFDIR:
		return "directory";
	case S_IFLNK:
		return "symlink";
	case S_IFCHR:
		return "character device";
	case S_IFBLK:
		return "block device";
	case S_IFIFO:
		return "fifo";
	case S_IFSOCK:
		return "socket";
	default:
		return "inode";
	}
}

/* "file /a/b (ino 5)", or "file ino 5" when it has no path. */
static const char *describe(struct fsck *f, size_t i, char *buf, size_t size)
{
	char path[PATH_MAX];

	if (path_of(f, i, path, sizeof(path)))
		snprintf(buf, size, "%s %s (ino %lld)", type_name(f->in[i].mode),
			 path, (long long)f->in[i].ino);
	else
		snprintf(buf, size, "%s ino %lld", type_name(f->in[i].mode),
			 (long long)f->in[i].ino);
	return buf;
}

/* Like describe() for a parent that may not exist. */
static const char *describe_ino(struct fsck *f, int64_t ino, char *buf,
				size_t size)
{
	size_t i = find_inode(f, ino);

	if (i == NONE)
		snprintf(buf, size, "ino %lld", (long long)ino);
	else
		describe(f, i, buf, size);
	return buf;
}

/* --- opening --- */

/*
 * Takes the lock the daemon holds while it runs. A store that is locked
 * but not mounted belongs to a daemon finishing its last commit after an
 * unmount: wait for it as cowfs itself does (doc/DESIGN.md section 6).
 */
static int lock_store(struct fsck *f)
{
	char mnt[PATH_MAX];
	int rc = store_lock(f->packfd, f->store, mnt, sizeof(mnt));

	if (rc == -EBUSY && mnt[0])
		fail(f, "store \"%s\" is mounted on \"%s\": unmount it first",
		     f->store, mnt);
	else if (rc == -EBUSY)
		fail(f, "store \"%s\" is in use by another process (a cowfs daemon or fsck)",
		     f->store);
	else if (rc)
		fail(f, "cannot lock store \"%s\": %s", f->store, strerror(-rc));
	return rc ? -1 : 0;
}

/* Opens the directory and the pack, locks, reads the header. */
static int open_pack(struct fsck *f, unsigned char hdr[PACK_HDR_LEN])
{
	struct stat sb;
	uint32_t version;

	f->dirfd = open(f->store, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f->dirfd < 0) {
		if (errno == ENOENT)
			fail(f, "store \"%s\" does not exist", f->store);
		else if (errno == ENOTDIR)
			fail(f, "\"%s\" is not a directory", f->store);
		else
			fail(f, "cannot open store \"%s\": %s", f->store,
			     strerror(errno));
		return -1;
	}
	{
		char err[PATH_MAX + 256];

		int rc = store_check_files(f->dirfd, f->store, !f->write, err,
					   sizeof(err));

		if (rc) {
			fail(f, "%s%s", err,
			     rc == -EROFS || rc == -EACCES
				     ? ": fsck.cowfs -n checks it without repairing"
				     : "");
			return -1;
		}
	}
	f->packfd = openat(f->dirfd, STORE_PACK_NAME,
			   (f->write ? O_RDWR : O_RDONLY) | O_NOFOLLOW |
				   O_CLOEXEC);
	if (f->packfd < 0) {
		if (errno == ENOENT || errno == ELOOP)
			fail(f, "\"%s\" is not a cowfs store (no %s file)",
			     f->store, STORE_PACK_NAME);
		else
			fail(f, "cannot open \"%s/%s\": %s", f->store,
			     STORE_PACK_NAME, strerror(errno));
		return -1;
	}
	if (fstat(f->packfd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		fail(f, "\"%s\" is not a cowfs store (%s is not a file)",
		     f->store, STORE_PACK_NAME);
		return -1;
	}
	if (lock_store(f))
		return -1;
	if (fstat(f->packfd, &sb) < 0) {
		fail(f, "cannot stat \"%s/%s\": %s", f->store, STORE_PACK_NAME,
		     strerror(errno));
		return -1;
	}
	f->pack_size = (uint64_t)sb.st_size;
	if (pread(f->packfd, hdr, PACK_HDR_LEN, 0) != PACK_HDR_LEN ||
	    memcmp(hdr, STORE_PACK_MAGIC, sizeof(STORE_PACK_MAGIC))) {
		fail(f, "\"%s\" is not a cowfs store (bad pack header)",
		     f->store);
		return -1;
	}
	memcpy(&version, hdr + PACK_HDR_VERSION, 4);
	version = le32toh(version);
	if (version != STORE_PACK_VERSION) {
		fail(f, "store \"%s\" has pack format version %u; this fsck.cowfs reads version %d",
		     f->store, version, STORE_PACK_VERSION);
		return -1;
	}
	return 0;
}

static int open_meta(struct fsck *f)
{
	char path[PATH_MAX], err[512];
	int rc;

	if (faccessat(f->dirfd, STORE_META_NAME, F_OK, AT_SYMLINK_NOFOLLOW)) {
		fail(f, "\"%s\" is not a cowfs store (no %s)", f->store,
		     STORE_META_NAME);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", f->store, STORE_META_NAME);
	rc = meta_check_open(path, !f->write, &f->mc, err, sizeof(err));
	if (rc == -EINVAL)
		fail(f, "\"%s\" is not a cowfs store (%s)", f->store, err);
	else if (rc == -EIO)
		fail(f, "store \"%s\": %s is not a usable database (%s)",
		     f->store, STORE_META_NAME, err);
	else if (rc == -EBUSY)
		fail(f, "store \"%s\": %s is locked by another process",
		     f->store, STORE_META_NAME);
	else if (rc)
		fail(f, "store \"%s\": cannot open %s: %s", f->store,
		     STORE_META_NAME, err);
	if (rc)
		return -1;
	if (f->prog.on)
		meta_check_set_tick(f->mc, prog_tick, f);
	return 0;
}

/* A failure of meta.db in the middle of the check. */
static int db_fail(struct fsck *f, const char *what, int rc)
{
	fail(f, "store \"%s\": cannot %s: %s", f->store, what,
	     rc == -ENOMEM ? strerror(ENOMEM) : meta_check_error(f->mc));
	return -1;
}

/* --- phase 0: the database itself, the header, the super rows --- */

struct integrity {
	char first[512];
	int n;
};

static int integrity_cb(void *ctx, const char *msg)
{
	struct integrity *ig = ctx;

	if (ig->n++ == 0)
		snprintf(ig->first, sizeof(ig->first), "%s", msg);
	return 0;
}

/* Returns 0, 1 if meta.db is damaged (a finding), -1 on an operational error. */
static int check_integrity(struct fsck *f)
{
	struct integrity ig = { .n = 0 };
	int rc;

	prog_phase(f, "checking the database", -1);
	rc = meta_check_integrity(f->mc, integrity_cb, &ig);
	if (rc < 0) {
		/* A database too damaged to check is damaged. */
		if (rc != -EIO)
			return db_fail(f, "check meta.db", rc);
		/* A finding (exit 4), not an operational error. */
		problem(f, FIX_NONE, "",
			"store \"%s\": %s is damaged (%s): restore it from a backup",
			f->store, STORE_META_NAME, meta_check_error(f->mc));
		return 1;
	}
	if (rc > 0) {
		char more[64] = "";

		if (ig.n > 1)
			snprintf(more, sizeof(more), ", and %d more", ig.n - 1);
		problem(f, FIX_NONE, "",
			"store \"%s\": %s is damaged (SQLite integrity check: %s%s): restore it from a backup",
			f->store, STORE_META_NAME, ig.first, more);
		return 1;
	}
	return 0;
}

/*
 * Returns 0 if the check can go on, 1 if not (findings made), -1 on an
 * operational error.
 */
static int check_super(struct fsck *f, const unsigned char hdr[PACK_HDR_LEN])
{
	struct meta_check_super *sb = &f->sb;
	uint32_t pbs;
	int rc = meta_check_super(f->mc, sb);
	bool stop = false;

	if (rc)
		return db_fail(f, "read the super rows", rc);
	if (!sb->have_format_version) {
		fail(f, "\"%s\" is not a cowfs store (no format_version in %s)",
		     f->store, STORE_META_NAME);
		return -1;
	}
	if (sb->format_version == 1 || sb->format_version == 2) {
		fail(f, "store \"%s\" has format version %lld: mount it once with cowfs to upgrade it to %d",
		     f->store, (long long)sb->format_version,
		     META_FORMAT_VERSION);
		return -1;
	}
	if (sb->format_version != META_FORMAT_VERSION) {
		fail(f, "store \"%s\": %s has format version %lld; this fsck.cowfs reads version %d",
		     f->store, STORE_META_NAME, (long long)sb->format_version,
		     META_FORMAT_VERSION);
		return -1;
	}
	memcpy(&pbs, hdr + PACK_HDR_BLOCK_SIZE, 4);
	pbs = le32toh(pbs);
	if (!sb->have_block_size || sb->block_size < 4096 ||
	    sb->block_size > (1 << 20) ||
	    (sb->block_size & (sb->block_size - 1))) {
		problem(f, FIX_NONE, "", "super: block_size %lld is not a power of two from 4096 to 1048576",
			(long long)sb->block_size);
		stop = true;
	} else if ((uint32_t)sb->block_size != pbs) {
		problem(f, FIX_NONE, "", "the pack header's block size %u differs from meta.db's %lld",
			pbs, (long long)sb->block_size);
		stop = true;
	}
	if (!sb->have_chunk_blocks || sb->chunk_blocks < 1 ||
	    sb->chunk_blocks > 65536) {
		problem(f, FIX_NONE, "", "super: chunk_blocks %lld is not from 1 to 65536",
			(long long)sb->chunk_blocks);
		stop = true;
	}
	if (sb->uuid_len != 16) {
		problem(f, FIX_NONE, "", "super: the uuid is missing or not 16 bytes");
		stop = true;
	} else if (memcmp(sb->uuid, hdr + PACK_HDR_UUID, 16)) {
		problem(f, FIX_NONE, "", "%s and %s belong to different stores (their uuids differ)",
			STORE_META_NAME, STORE_PACK_NAME);
		stop = true;
	}
	if (stop)
		return 1;
	f->bs = (uint32_t)sb->block_size;
	f->cblocks = (uint64_t)sb->chunk_blocks;
	f->pack_slots = f->pack_size / f->bs;
	return 0;
}

/* --- phase 1: inodes --- */

/* Appends a zeroed inode record; NULL if out of memory. */
static struct f_inode *add_inode(struct fsck *f)
{
	struct f_inode *p = grow_array(f->in, &f->incap, f->nin, sizeof(*p));
	if (!p)
		return NULL;
	f->in = p;
	memset(&f->in[f->nin], 0, sizeof(f->in[0]));
	return &f->in[f->nin++];
}

static int inode_cb(void *ctx, const struct meta_check_inode *mi)
{
	struct fsck *f = ctx;
	struct f_inode *in;
	uint32_t type = (uint32_t)mi->mode & S_IFMT;

	prog_step(f);
	in = add_inode(f);
	if (!in)
		return -ENOMEM;
	in->ino = mi->ino;
	in->mode = (uint32_t)mi->mode;
	in->nlink = mi->nlink;
	in->size = mi->size;
	if (mi->ino < 1) {
		in->flags |= I_INVALID;
		if (problem(f, FIX_UNSAFE, "deleted",
			    "inode row %lld has an impossible inode number",
			    (long long)mi->ino))
			in->flags |= I_DELETE;
		return 0;
	}
	f->max_ino = MAX(f->max_ino, mi->ino);
	if (mi->mode < 0 || mi->mode > 0xffff ||
	    (type != S_IFREG && type != S_IFDIR && type != S_IFLNK &&
	     type != S_IFCHR && type != S_IFBLK && type != S_IFIFO &&
	     type != S_IFSOCK)) {
		problem(f, FIX_NONE, "", "ino %lld has an unknown file type (mode 0%llo)",
			(long long)mi->ino, (unsigned long long)mi->mode);
		return 0;
	}
	if (type == S_IFLNK && mi->linklen <= 0 &&
	    problem(f, FIX_UNSAFE, "deleted", "symlink ino %lld has no target",
		    (long long)mi->ino))
		in->flags |= I_DELETE;
	return 0;
}

static int load_inodes(struct fsck *f)
{
	int rc;

	prog_phase(f, "checking inodes", MC_INODE);
	rc = meta_check_inodes(f->mc, inode_cb, f);
	if (rc)
		return db_fail(f, "read the inodes", rc);
	f->root = find_inode(f, META_ROOT_INO);
	if (f->root == NONE) {
		problem(f, FIX_NONE, "", "the root directory (ino 1) does not exist");
	} else if (!S_ISDIR(f->in[f->root].mode)) {
		problem(f, FIX_NONE, "", "the root (ino 1) is not a directory");
		f->root = NONE;
	}
	return 0;
}

/* --- phase 2: names and the directory tree --- */

static bool name_ok(const unsigned char *s, size_t len)
{
	if (!s || len == 0 || len > META_NAME_MAX)
		return false;
	if ((len == 1 && s[0] == '.') ||
	    (len == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	return !memchr(s, '/', len) && !memchr(s, '\0', len);
}

static int dentry_cb(void *ctx, const struct meta_check_dentry *md)
{
	struct fsck *f = ctx;
	struct f_dent *d, *p;

	prog_step(f);
	p = grow_array(f->de, &f->decap, f->nde, sizeof(*p));
	if (!p)
		return -ENOMEM;
	f->de = p;
	d = &f->de[f->nde++];
	memset(d, 0, sizeof(*d));
	d->id = md->id;
	d->parent = md->parent;
	d->ino = md->ino;
	if (!name_ok(md->name, md->namelen))
		d->bad = BAD_NAME;
	if (md->parent == META_ROOT_INO &&
	    md->namelen == strlen(LOST_FOUND) &&
	    !memcmp(md->name, LOST_FOUND, md->namelen))
		d->flags |= D_LFNAME;
	return 0;
}

static int cmp_dent_parent(const void *a, const void *b)
{
	const struct f_dent *x = a, *y = b;

	if (x->parent != y->parent)
		return x->parent < y->parent ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static const struct fsck *sort_ctx;

static int cmp_by_ino(const void *a, const void *b)
{
	const struct f_dent *x = &sort_ctx->de[*(const size_t *)a];
	const struct f_dent *y = &sort_ctx->de[*(const size_t *)b];

	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int64_t parent_key(const struct fsck *f, size_t i)
{
	return f->de[i].parent;
}

static int64_t name_ino_key(const struct fsck *f, size_t i)
{
	return f->de[f->by_ino[i]].ino;
}

/* The range [start, *@end) of an array sorted by @key_at whose key is @key. */
static size_t equal_range(const struct fsck *f, size_t n, int64_t key,
			  int64_t (*key_at)(const struct fsck *f, size_t i),
			  size_t *end)
{
	size_t start = lower_bound(f, n, key, key_at), i = start;

	while (i < n && key_at(f, i) == key)
		i++;
	*end = i;
	return start;
}

/* The range of de[] (sorted by parent) whose parent is @ino. */
static size_t children(const struct fsck *f, int64_t ino, size_t *end)
{
	return equal_range(f, f->nde, ino, parent_key, end);
}

/* The range of by_ino[] naming @ino. */
static size_t names_of(const struct fsck *f, int64_t ino, size_t *end)
{
	return equal_range(f, f->nde, ino, name_ino_key, end);
}

static bool dent_live(const struct f_dent *d)
{
	return d->bad == BAD_NONE && !(d->flags & D_DROP);
}

/* Walks the tree below the reached directory @start. */
static int walk_tree(struct fsck *f, size_t start)
{
	size_t *queue = NULL, qn = 0, qcap = 0, head = 0;
	char desc[PATH_MAX + 64], pdesc[PATH_MAX + 64], name[1024];
	int rc = 0;

	queue = malloc(64 * sizeof(*queue));
	if (!queue)
		return -ENOMEM;
	qcap = 64;
	queue[qn++] = start;
	while (head < qn) {
		size_t p = queue[head++], end;

		for (size_t k = children(f, f->in[p].ino, &end); k < end; k++) {
			struct f_dent *d = &f->de[k];
			size_t c = d->ci;

			prog_step(f);
			if (!dent_live(d))
				continue;
			if (!is_dir(f, c)) {
				if (!(f->in[c].flags & I_REACHED)) {
					f->in[c].flags |= I_REACHED;
					f->in[c].pdent = (int64_t)k + 1;
				}
				continue;
			}
			if (f->in[c].flags & I_REACHED) {
				dent_name(f, k, name, sizeof(name));
				describe(f, c, desc, sizeof(desc));
				describe(f, p, pdesc, sizeof(pdesc));
				if (problem(f, FIX_UNSAFE, "that name removed",
					    "%s has a second name \"%s\" in %s",
					    desc, name, pdesc))
					d->flags |= D_DROP;
				continue;
			}
			f->in[c].flags |= I_REACHED;
			f->in[c].pdent = (int64_t)k + 1;
			if (qn == qcap) {
				size_t *q = realloc(queue,
						    qcap * 2 * sizeof(*q));

				if (!q) {
					rc = -ENOMEM;
					goto out;
				}
				queue = q;
				qcap *= 2;
			}
			queue[qn++] = c;
		}
	}
out:
	free(queue);
	return rc;
}


static int64_t first_free_ino(const struct fsck *f)
{
	int64_t next = f->sb.have_next_ino ? f->sb.next_ino : 0;

	return MAX(next, f->max_ino + 1);
}

/*
 * Finds /lost+found, or decides to create it. Sets f->lf_ok and f->lf.
 * A "lost+found" in the root that is not a directory makes reconnecting
 * impossible.
 */
static int look_for_lf(struct fsck *f)
{
	size_t end;

	if (f->lf_looked)
		return 0;
	f->lf_looked = true;
	f->lf = NONE;
	f->lf_ok = false;
	if (f->root == NONE)
		return 0;
	for (size_t k = children(f, META_ROOT_INO, &end); k < end; k++) {
		struct f_dent *d = &f->de[k];

		if (!(d->flags & D_LFNAME) || (d->flags & D_DROP))
			continue;
		/* A bad entry of that name goes before the new one comes. */
		if (d->bad != BAD_NONE &&
		    (d->bad == BAD_GONE || f->apply_unsafe))
			continue;
		if (d->bad == BAD_NONE && is_dir(f, d->ci) &&
		    f->in[d->ci].pdent == (int64_t)k + 1) {
			f->lf = d->ci;
			f->lf_ok = true;
		}
		/* A lost+found that is not a usable directory: give up. */
		return 0;
	}
	f->lf_ok = true;
	return 0;
}

/* Adds the new entry @name in @parent for @ino; returns its pdent. */
static int add_newdent(struct fsck *f, int64_t parent, const char *name,
		       int64_t ino, int64_t *pdent)
{
	struct f_newdent *nd = vec_push(&f->newdent, sizeof(*nd));

	if (!nd)
		return -ENOMEM;
	nd->parent = parent;
	nd->ino = ino;
	snprintf(nd->name, sizeof(nd->name), "%s", name);
	*pdent = -(int64_t)f->newdent.n;
	return 0;
}

/* Creates the lost+found the repair uses, in the model. */
static int make_lf(struct fsck *f)
{
	struct f_inode *lf;
	int64_t pdent;
	int rc;

	if (f->lf != NONE)
		return 0;
	lf = add_inode(f);
	if (!lf)
		return -ENOMEM;
	lf->ino = first_free_ino(f);
	lf->mode = S_IFDIR | 0700;
	lf->nlink = 2;
	lf->flags = I_NEW | I_REACHED;
	f->lf = f->nin - 1;
	rc = add_newdent(f, META_ROOT_INO, LOST_FOUND, lf->ino, &pdent);
	if (!rc)
		f->in[f->lf].pdent = pdent;
	return rc;
}

/* Gives inode @i the name /lost+found/#ino (in the model). */
static int reconnect(struct fsck *f, size_t i)
{
	char name[40];
	int64_t pdent;
	int rc = make_lf(f);

	if (rc)
		return rc;
	snprintf(name, sizeof(name), "#%lld", (long long)f->in[i].ino);
	if (!(f->in[f->lf].flags & I_NEW)) {
		/* Never reuse a name lost+found already has. */
		for (int n = 1; n < 1000; n++) {
			rc = meta_check_dentry_exists(f->mc, f->in[f->lf].ino,
						      name, strlen(name));
			if (rc <= 0)
				break;
			snprintf(name, sizeof(name), "#%lld.%d",
				 (long long)f->in[i].ino, n);
		}
		if (rc < 0)
			return rc;
	}
	rc = add_newdent(f, f->in[f->lf].ino, name, f->in[i].ino, &pdent);
	if (!rc)
		f->in[i].pdent = pdent;
	return rc;
}

/* The first live name of inode @i (in de[]), or NONE. */
static size_t first_name(const struct fsck *f, size_t i)
{
	size_t end;

	for (size_t k = names_of(f, f->in[i].ino, &end); k < end; k++)
		if (dent_live(&f->de[f->by_ino[k]]))
			return f->by_ino[k];
	return NONE;
}

/*
 * A directory that the walk from the root did not reach. Climbs its names
 * to the top of its unreachable part (a directory with no name, or one on
 * a cycle of names) and reconnects that into lost+found, or deletes it if
 * it is an empty orphan.
 */
static int unreachable_dir(struct fsck *f, size_t i)
{
	char desc[PATH_MAX + 64], name[1024], how[1200], fix[64];
	size_t cur = i, k, end;
	bool cycle = false;
	int rc;

	f->stamp++;
	for (;;) {
		size_t p;

		f->in[cur].stamp = f->stamp;
		k = first_name(f, cur);
		if (k == NONE)
			break;
		p = f->de[k].pi;
		if (f->in[p].flags & I_REACHED)
			break;
		if (f->in[p].stamp == f->stamp) {
			cycle = true;
			break;
		}
		cur = p;
	}
	if (cycle) {
		/*
		 * Cut the cycle at its oldest directory: inode numbers only
		 * grow, and a parent is made before its children.
		 */
		size_t x = cur, top = cur;

		do {
			x = f->de[first_name(f, x)].pi;
			if (f->in[x].ino < f->in[top].ino)
				top = x;
		} while (x != cur);
		cur = top;
	}
	if (f->in[cur].nlink == 0 && f->in[cur].names == 0 &&
	    !(f->in[cur].flags & I_HAS_CHILD)) {
		f->in[cur].flags |= I_REACHED;
		if (orphan(f, describe(f, cur, desc, sizeof(desc))))
			f->in[cur].flags |= I_DELETE;
		return 0;
	}
	k = first_name(f, cur);
	if (k != NONE) {
		dent_name(f, k, name, sizeof(name));
		snprintf(how, sizeof(how), " (named \"%s\" in ino %lld%s)",
			 name, (long long)f->de[k].parent,
			 cycle ? ", on a cycle of directories" : "");
	} else {
		snprintf(how, sizeof(how), " (no name)");
	}
	rc = look_for_lf(f);
	if (rc)
		return rc;
	snprintf(fix, sizeof(fix), "moved to /%s/#%lld", LOST_FOUND,
		 (long long)f->in[cur].ino);
	if (problem(f, f->lf_ok ? FIX_UNSAFE : FIX_NONE, fix,
		    "directory ino %lld%s is not reachable from the root",
		    (long long)f->in[cur].ino, how)) {
		/* Its other names are in unreachable directories. */
		for (k = names_of(f, f->in[cur].ino, &end); k < end; k++)
			if (dent_live(&f->de[f->by_ino[k]]))
				f->de[f->by_ino[k]].flags |= D_DROP;
		rc = reconnect(f, cur);
		if (rc)
			return rc;
	}
	f->in[cur].flags |= I_REACHED;
	return walk_tree(f, cur);
}

static void report_bad_dent(struct fsck *f, size_t k)
{
	struct f_dent *d = &f->de[k];
	char name[1024], pdesc[PATH_MAX + 64];
	bool drop = false;

	if (d->bad == BAD_NONE)
		return;
	if (d->bad == BAD_GONE) {
		d->flags |= D_DROP;
		return;
	}
	dent_name(f, k, name, sizeof(name));
	describe_ino(f, d->parent, pdesc, sizeof(pdesc));
	switch (d->bad) {
	case BAD_NOCHILD:
		drop = problem(f, FIX_UNSAFE, "entry removed",
			       "entry \"%s\" in %s names ino %lld, which does not exist",
			       name, pdesc, (long long)d->ino);
		break;
	case BAD_NOPARENT:
		drop = problem(f, FIX_UNSAFE, "entry removed",
			       "entry \"%s\" for ino %lld is in directory ino %lld, which does not exist",
			       name, (long long)d->ino, (long long)d->parent);
		break;
	case BAD_NOTDIR:
		drop = problem(f, FIX_UNSAFE, "entry removed",
			       "entry \"%s\" for ino %lld is in %s, which is not a directory",
			       name, (long long)d->ino, pdesc);
		break;
	case BAD_ROOT:
		drop = problem(f, FIX_UNSAFE, "entry removed",
			       "entry \"%s\" in %s names the root directory",
			       name, pdesc);
		break;
	case BAD_NAME:
		drop = problem(f, FIX_UNSAFE, "entry removed",
			       "entry \"%s\" for ino %lld in %s has an invalid name",
			       name, (long long)d->ino, pdesc);
		break;
	default:
		break;
	}
	if (drop)
		d->flags |= D_DROP;
}

/* nlink: files count their names, directories 2 + their subdirectories. */
static int check_nlink(struct fsck *f)
{
	char desc[PATH_MAX + 64], fix[64];
	int64_t *orig = calloc(f->nin ? f->nin : 1, sizeof(*orig));

	if (!orig)
		return -ENOMEM;
	for (size_t i = 0; i < f->nin; i++)
		orig[i] = S_ISDIR(f->in[i].mode) ? 2 + (int64_t)f->in[i].subdirs
						 : (int64_t)f->in[i].names;
	/* Count again after the repairs decided. */
	for (size_t i = 0; i < f->nin; i++)
		f->in[i].names = f->in[i].subdirs = 0;
	for (size_t k = 0; k < f->nde; k++) {
		struct f_dent *d = &f->de[k];

		if ((d->flags & D_DROP) || d->ci == NONE ||
		    (f->in[d->ci].flags & I_DELETE))
			continue;
		f->in[d->ci].names++;
		if (is_dir(f, d->ci) && d->pi != NONE)
			f->in[d->pi].subdirs++;
	}
	for (size_t k = 0; k < f->newdent.n; k++) {
		struct f_newdent *nd = &VEC_AT(f->newdent, struct f_newdent, k);
		size_t c = find_inode(f, nd->ino);
		size_t p = find_inode(f, nd->parent);

		f->in[c].names++;
		if (is_dir(f, c) && p != NONE)
			f->in[p].subdirs++;
	}
	for (size_t i = 0; i < f->nin; i++) {
		struct f_inode *in = &f->in[i];
		int64_t want = S_ISDIR(in->mode) ? 2 + (int64_t)in->subdirs
						 : (int64_t)in->names;
		bool apply = true;

		if (in->flags & (I_DELETE | I_INVALID))
			continue;
		if (!(in->flags & I_NEW) && in->nlink != orig[i]) {
			snprintf(fix, sizeof(fix), "set to %lld", (long long)want);
			describe(f, i, desc, sizeof(desc));
			if (S_ISDIR(in->mode))
				apply = problem(f, FIX_SAFE, fix,
						"%s: nlink is %lld, but it should be %lld (2 + %lld subdirectories)",
						desc, (long long)in->nlink,
						(long long)orig[i],
						(long long)orig[i] - 2);
			else
				apply = problem(f, FIX_SAFE, fix,
						"%s: nlink is %lld, but it has %lld name%s",
						desc, (long long)in->nlink,
						(long long)orig[i],
						orig[i] == 1 ? "" : "s");
		}
		if (apply && in->nlink != want) {
			in->nlink = want;
			in->flags |= I_NLINK_W;
		}
	}
	free(orig);
	return 0;
}

static int check_names(struct fsck *f)
{
	char desc[PATH_MAX + 64], fix[64];
	int rc;

	prog_phase(f, "checking names", MC_DENTRY);
	rc = meta_check_dentries(f->mc, dentry_cb, f);
	if (rc)
		return db_fail(f, "read the directory entries", rc);
	if (f->nde)
		qsort(f->de, f->nde, sizeof(*f->de), cmp_dent_parent);
	f->by_ino = malloc((f->nde ? f->nde : 1) * sizeof(*f->by_ino));
	if (!f->by_ino)
		return db_fail(f, "check names", -ENOMEM);
	for (size_t k = 0; k < f->nde; k++)
		f->by_ino[k] = k;
	sort_ctx = f;
	if (f->nde)
		qsort(f->by_ino, f->nde, sizeof(*f->by_ino), cmp_by_ino);

	/* What is wrong with each entry by itself; the counts as they are. */
	for (size_t k = 0; k < f->nde; k++) {
		struct f_dent *d = &f->de[k];
		size_t c = find_inode(f, d->ino), p = find_inode(f, d->parent);
		enum bad why = BAD_NONE;

		d->ci = c;
		d->pi = p;
		if (c != NONE && (f->in[c].flags & I_DELETE))
			why = BAD_GONE;
		else if (c == NONE)
			why = BAD_NOCHILD;
		else if (p == NONE)
			why = BAD_NOPARENT;
		else if (!is_dir(f, p))
			why = BAD_NOTDIR;
		else if (d->ino == META_ROOT_INO)
			why = BAD_ROOT;
		if (why != BAD_NONE)
			d->bad = why;
		if (c != NONE && why != BAD_GONE) {
			f->in[c].names++;
			if (is_dir(f, c) && p != NONE)
				f->in[p].subdirs++;
		}
		if (p != NONE)
			f->in[p].flags |= I_HAS_CHILD;
	}

	prog_phase(f, "checking the directory tree", MC_DENTRY);
	if (f->root == NONE) {
		/* No tree to check: leave reachability alone. */
		for (size_t i = 0; i < f->nin; i++)
			f->in[i].flags |= I_REACHED;
	} else {
		f->in[f->root].flags |= I_REACHED;
		rc = walk_tree(f, f->root);
		for (size_t i = 0; !rc && i < f->nin; i++)
			if (is_dir(f, i) &&
			    !(f->in[i].flags &
			      (I_REACHED | I_DELETE | I_INVALID)))
				rc = unreachable_dir(f, i);
		if (rc)
			return db_fail(f, "check the directory tree", rc);
	}
	for (size_t k = 0; k < f->nde; k++)
		report_bad_dent(f, k);
	for (size_t i = 0; i < f->nin; i++) {
		struct f_inode *in = &f->in[i];

		if (in->flags & (I_REACHED | I_DELETE | I_INVALID))
			continue;
		in->flags |= I_REACHED;
		describe(f, i, desc, sizeof(desc));
		if (in->nlink == 0 && in->names == 0) {
			if (orphan(f, desc))
				f->in[i].flags |= I_DELETE;
			continue;
		}
		rc = look_for_lf(f);
		if (rc)
			return db_fail(f, "check the directory tree", rc);
		snprintf(fix, sizeof(fix), "moved to /%s/#%lld", LOST_FOUND,
			 (long long)in->ino);
		if (problem(f, f->lf_ok ? FIX_UNSAFE : FIX_NONE, fix,
			    "%s has no name in the directory tree (nlink %lld)",
			    desc, (long long)in->nlink)) {
			rc = reconnect(f, i);
			if (rc)
				return db_fail(f, "check the directory tree",
					       rc);
		}
	}
	rc = check_nlink(f);
	if (rc)
		return db_fail(f, "check link counts", rc);
	for (size_t i = 0; i < f->nin; i++)
		if (!(f->in[i].flags & (I_DELETE | I_INVALID)))
			f->inodes_live++;
	return 0;
}

/* --- phase 3: file maps --- */

static int fmap_cb(void *ctx, int64_t ino, int64_t cidx, int64_t chunk)
{
	struct fsck *f = ctx;
	struct f_fmap *m, *p;

	prog_step(f);
	p = grow_array(f->fm, &f->fmcap, f->nfm, sizeof(*p));
	if (!p)
		return -ENOMEM;
	f->fm = p;
	m = &f->fm[f->nfm++];
	m->ino = ino;
	m->cidx = cidx;
	m->chunk = chunk;
	m->cpos = NONE;
	m->flags = 0;
	return 0;
}

static int cmp_fmap_chunk(const void *a, const void *b)
{
	const struct f_fmap *x = a, *y = b;

	if (x->chunk != y->chunk)
		return x->chunk < y->chunk ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return x->cidx < y->cidx ? -1 : x->cidx > y->cidx;
}

static int check_fmaps(struct fsck *f)
{
	char desc[PATH_MAX + 64], fix[64];
	/* The chunk of the last byte of the largest file (INT64_MAX - 1). */
	int64_t max_cidx = (int64_t)(((uint64_t)(INT64_MAX - 1) / f->bs) /
				     f->cblocks);
	int rc;

	prog_phase(f, "checking file maps", MC_FMAP);
	rc = meta_check_fmaps(f->mc, fmap_cb, f);
	if (rc)
		return db_fail(f, "read the file maps", rc);
	/* Rows are in (ino, cidx) order: report once per inode. */
	for (size_t k = 0, next; k < f->nfm; k = next) {
		int64_t ino = f->fm[k].ino;
		size_t i = find_inode(f, ino), n;
		bool drop = false;

		for (next = k; next < f->nfm && f->fm[next].ino == ino; next++)
			;
		n = next - k;
		if (i == NONE) {
			drop = problem(f, FIX_SAFE, "removed",
				       "%zu file map row%s of ino %lld, which does not exist",
				       n, n == 1 ? "" : "s", (long long)ino);
		} else if (f->in[i].flags & I_DELETE) {
			drop = true;	/* goes with the inode */
		} else if (!S_ISREG(f->in[i].mode)) {
			snprintf(fix, sizeof(fix), "removed");
			drop = problem(f, FIX_UNSAFE, fix,
				       "%s has %zu file map row%s, but only regular files have data",
				       describe(f, i, desc, sizeof(desc)), n,
				       n == 1 ? "" : "s");
		} else {
			for (size_t j = k; j < next; j++) {
				if (f->fm[j].cidx >= 0 &&
				    f->fm[j].cidx <= max_cidx)
					continue;
				if (problem(f, FIX_UNSAFE, "removed",
					    "%s: file map row with impossible chunk index %lld",
					    describe(f, i, desc, sizeof(desc)),
					    (long long)f->fm[j].cidx))
					f->fm[j].flags |= F_DROP;
			}
		}
		if (drop)
			for (size_t j = k; j < next; j++)
				f->fm[j].flags |= F_DROP;
	}
	if (f->nfm)
		qsort(f->fm, f->nfm, sizeof(*f->fm), cmp_fmap_chunk);
	return 0;
}

/* --- phase 4: chunks --- */

static int chunk_cb(void *ctx, const struct meta_check_chunk *c)
{
	struct fsck *f = ctx;
	struct f_chunk *fc;
	size_t pos = f->ch.n, p = f->scan_pos, keep_n;
	uint32_t orig = 0, kept = 0;
	bool deleted, rewrite = false;
	char fix[64];

	prog_step(f);
	/* fmap rows naming chunks below this one name missing chunks. */
	while (p < f->nfm && f->fm[p].chunk < c->id)
		f->fm[p++].flags |= F_NOCHUNK;
	while (p < f->nfm && f->fm[p].chunk == c->id) {
		orig++;
		if (!(f->fm[p].flags & F_DROP))
			kept++;
		f->fm[p++].cpos = pos;
	}
	f->scan_pos = p;
	fc = vec_push(&f->ch, sizeof(*fc));
	if (!fc)
		return -ENOMEM;
	fc->id = c->id;
	fc->refs = c->refs;
	fc->kept = kept;
	fc->lastkept = 0;
	fc->flags = 0;

	/* The map: whole u64 entries, at most chunk_blocks, no trailing 0. */
	keep_n = c->n;
	if (c->bytes % sizeof(uint64_t)) {
		snprintf(fix, sizeof(fix), "cut to %zu entries",
			 MIN(c->n, (size_t)f->cblocks));
		if (problem(f, FIX_UNSAFE, fix,
			    "chunk %lld: its map of %zu bytes is not a whole number of 8-byte entries",
			    (long long)c->id, c->bytes)) {
			rewrite = true;
			keep_n = MIN(c->n, (size_t)f->cblocks);
		}
	} else if (c->n > f->cblocks) {
		snprintf(fix, sizeof(fix), "cut to %llu entries",
			 (unsigned long long)f->cblocks);
		if (problem(f, FIX_UNSAFE, fix,
			    "chunk %lld: its map has %zu entries, more than chunk_blocks (%llu)",
			    (long long)c->id, c->n,
			    (unsigned long long)f->cblocks)) {
			rewrite = true;
			keep_n = f->cblocks;
		}
	} else if (c->n > 0 && c->map[c->n - 1] == 0) {
		rewrite = problem(f, FIX_SAFE, "trimmed",
				  "chunk %lld: its map ends with a hole, which is never stored",
				  (long long)c->id);
	}

	/* Invariant (1): refs = the fmap rows naming the chunk. */
	if (orig == 0) {
		deleted = problem(f, FIX_SAFE, "deleted",
				  "chunk %lld is named by no file (leaked)",
				  (long long)c->id);
	} else {
		if (c->refs != (int64_t)orig) {
			if (kept)
				snprintf(fix, sizeof(fix), "set to %u", kept);
			else
				snprintf(fix, sizeof(fix), "deleted");
			problem(f, FIX_SAFE, fix,
				"chunk %lld: refs is %lld, but %u file map row%s name%s it",
				(long long)c->id, (long long)c->refs, orig,
				orig == 1 ? "" : "s", orig == 1 ? "s" : "");
		}
		deleted = kept == 0;
	}
	if (deleted)
		fc->flags |= C_DELETE;

	for (size_t i = 0; i < c->n; i++) {
		uint64_t s = c->map[i];
		bool gone = deleted || i >= keep_n;

		if (!s)
			continue;
		if (!gone && s >= f->pack_slots) {
			struct f_pastend *pe;

			pe = vec_push(&f->pastend, sizeof(*pe));
			if (!pe)
				return -ENOMEM;
			pe->cpos = pos;
			pe->idx = (uint32_t)i;
			if (f->apply_unsafe) {
				gone = true;
				rewrite = true;
			}
		}
		if (push_u64(gone ? &f->removed : &f->kept, s))
			return -ENOMEM;
		if (!gone)
			fc->lastkept = (uint32_t)(i + 1);
	}
	if (rewrite && !deleted)
		fc->flags |= C_REWRITE;
	return 0;
}

static int check_chunks(struct fsck *f)
{
	char desc[PATH_MAX + 64];
	int rc;

	prog_phase(f, "checking chunks", MC_CHUNK);
	f->scan_pos = 0;
	rc = meta_check_chunks(f->mc, chunk_cb, f);
	if (rc)
		return db_fail(f, "read the chunks", rc);
	for (size_t p = f->scan_pos; p < f->nfm; p++)
		f->fm[p].flags |= F_NOCHUNK;
	for (size_t p = 0; p < f->nfm; p++) {
		struct f_fmap *m = &f->fm[p];

		if (!(m->flags & F_NOCHUNK) || (m->flags & F_DROP))
			continue;
		if (problem(f, FIX_UNSAFE, "removed (those blocks read as zeros)",
			    "%s: chunk index %lld names chunk %lld, which does not exist",
			    describe_ino(f, m->ino, desc, sizeof(desc)),
			    (long long)m->cidx, (long long)m->chunk))
			m->flags |= F_DROP;
	}
	return 0;
}

/* --- phase 5: sizes and blocks past the end of the pack --- */

struct lost_block {
	size_t i;
	uint64_t block;
};

static int cmp_lost(const void *a, const void *b)
{
	const struct lost_block *x = a, *y = b;

	if (x->i != y->i)
		return x->i < y->i ? -1 : 1;
	return x->block < y->block ? -1 : x->block > y->block;
}

static int64_t fmap_chunk_key(const struct fsck *f, size_t i)
{
	return f->fm[i].chunk;
}

/* The first fmap row (sorted by chunk) naming chunk @id. */
static size_t fmap_of_chunk(const struct fsck *f, int64_t id)
{
	return lower_bound(f, f->nfm, id, fmap_chunk_key);
}

/*
 * Reports the file blocks in @lost (struct lost_block), one problem per
 * file: "FILE: block B IS1" or "FILE: N blocks ARE (the first is block B)".
 */
static void report_blocks(struct fsck *f, struct vec *lost, enum fix cls,
			  const char *fix1, const char *fixn, const char *is1,
			  const char *are)
{
	char desc[PATH_MAX + 64];

	if (lost->n)
		qsort(lost->p, lost->n, sizeof(struct lost_block), cmp_lost);
	for (size_t k = 0, next; k < lost->n; k = next) {
		struct lost_block *lb = &VEC_AT(*lost, struct lost_block, k);

		for (next = k; next < lost->n &&
			       VEC_AT(*lost, struct lost_block, next).i == lb->i;
		     next++)
			;
		describe(f, lb->i, desc, sizeof(desc));
		if (next - k == 1)
			problem(f, cls, fix1, "%s: block %llu %s", desc,
				(unsigned long long)lb->block, is1);
		else
			problem(f, cls, fixn,
				"%s: %zu blocks %s (the first is block %llu)",
				desc, next - k, are,
				(unsigned long long)lb->block);
	}
}

/* Adds an entry for every live file block that names entry @idx of @id. */
static int add_file_blocks(struct fsck *f, struct vec *lost, int64_t id,
			   uint64_t idx)
{
	for (size_t p = fmap_of_chunk(f, id);
	     p < f->nfm && f->fm[p].chunk == id; p++) {
		size_t i = find_inode(f, f->fm[p].ino);
		struct lost_block *lb;

		if ((f->fm[p].flags & F_DROP) || i == NONE ||
		    (f->in[i].flags & I_DELETE))
			continue;
		lb = vec_push(lost, sizeof(*lb));
		if (!lb)
			return -ENOMEM;
		lb->i = i;
		lb->block = (uint64_t)f->fm[p].cidx * f->cblocks + idx;
	}
	return 0;
}

static int check_pastend(struct fsck *f)
{
	struct vec lost = { 0 };

	for (size_t k = 0; k < f->pastend.n; k++) {
		struct f_pastend *pe = &VEC_AT(f->pastend, struct f_pastend, k);
		int64_t id = VEC_AT(f->ch, struct f_chunk, pe->cpos).id;

		if (add_file_blocks(f, &lost, id, pe->idx)) {
			vec_free(&lost);
			return -ENOMEM;
		}
	}
	report_blocks(f, &lost, FIX_UNSAFE, "unmapped (it reads as zeros)",
		      "unmapped (they read as zeros)",
		      "is past the end of the pack",
		      "are past the end of the pack");
	vec_free(&lost);
	return 0;
}

/*
 * Does slot @s read as zeros? A hole in the pack does (a block that
 * fallocate preallocated is one: map_prepare_write punches a reused slot
 * before a partial write); otherwise the slot is read. A slot that cannot
 * be read counts as zeros: fsck does not scrub data.
 */
static bool slot_is_zero(struct fsck *f, uint64_t s)
{
	off_t start = (off_t)(s * f->bs), data;
	ssize_t n;

	data = lseek(f->packfd, start, SEEK_DATA);
	if ((data < 0 && errno == ENXIO) ||
	    (data >= 0 && data >= start + (off_t)f->bs))
		return true;
	if (!f->zbuf) {
		f->zbuf = malloc(f->bs);
		if (!f->zbuf)
			return true;
	}
	n = pread(f->packfd, f->zbuf, f->bs, start);
	if (n <= 0)
		return true;
	for (ssize_t k = 0; k < n; k++)
		if (f->zbuf[k])
			return false;
	return true;
}

/* A block past its file's size that holds data. */
struct eof_block {
	size_t i;		/* the file */
	uint64_t block;
	size_t cpos;		/* where it is mapped */
	uint32_t idx;
	uint64_t slot;
	bool unmappable;	/* past the end of every file naming it */
};

static int cmp_eof(const void *a, const void *b)
{
	const struct eof_block *x = a, *y = b;

	if (x->i != y->i)
		return x->i < y->i ? -1 : 1;
	return x->block < y->block ? -1 : x->block > y->block;
}

static int cmp_unmap(const void *a, const void *b)
{
	const struct eof_block *x = a, *y = b;

	if (x->cpos != y->cpos)
		return x->cpos < y->cpos ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* ceil(size / block size): the blocks a file's size covers. */
static uint64_t size_blocks(const struct fsck *f, size_t i)
{
	int64_t size = f->in[i].size;

	return size <= 0 ? 0 : ((uint64_t)size + f->bs - 1) / f->bs;
}

/* Is entry @idx of chunk @cpos past the end of every file naming it? */
static bool past_every_eof(const struct fsck *f, size_t cpos, uint32_t idx)
{
	int64_t id = VEC_AT(f->ch, struct f_chunk, cpos).id;

	for (size_t p = fmap_of_chunk(f, id);
	     p < f->nfm && f->fm[p].chunk == id; p++) {
		uint64_t b = (uint64_t)f->fm[p].cidx * f->cblocks + idx;
		size_t i;

		if (f->fm[p].flags & F_DROP)
			continue;
		i = find_inode(f, f->fm[p].ino);
		if (i != NONE && b < size_blocks(f, i))
			return false;
	}
	return true;
}

/* Moves one reference to slot @s from kept[] to removed[]. */
static int unref_slot(struct fsck *f, uint64_t s)
{
	uint64_t *kept = f->kept.p;

	for (size_t k = 0; k < f->kept.n; k++) {
		if (kept[k] != s)
			continue;
		kept[k] = kept[--f->kept.n];
		return push_u64(&f->removed, s);
	}
	return 0;
}

/*
 * Sizes against maps. A block mapped at or past ceil(size / block size)
 * is legal only if it reads as zeros: fallocate with FALLOC_FL_KEEP_SIZE
 * maps zeroed blocks past the end of a file, but a block past the end
 * that holds data breaks invariant (6): extending the file would show it.
 * Such a block is unmapped when every file naming its chunk ends before
 * it; otherwise it cannot be repaired here.
 */
static int check_sizes(struct fsck *f)
{
	struct vec eof = { 0 };
	char desc[PATH_MAX + 64], fix[64];
	uint64_t *map = NULL;
	size_t n = 0, bytes;
	int64_t loaded = 0;
	bool have = false;
	int rc = 0;

	for (size_t p = 0; p < f->nfm; p++) {
		struct f_fmap *m = &f->fm[p];
		struct f_chunk *c;
		uint64_t base, need;
		size_t i;

		if ((m->flags & (F_DROP | F_NOCHUNK)) || m->cpos == NONE)
			continue;
		c = &VEC_AT(f->ch, struct f_chunk, m->cpos);
		i = find_inode(f, m->ino);
		if ((c->flags & C_DELETE) || !c->lastkept || i == NONE ||
		    !S_ISREG(f->in[i].mode) || (f->in[i].flags & I_DELETE))
			continue;
		base = (uint64_t)m->cidx * f->cblocks;
		f->in[i].maxblk = MAX(f->in[i].maxblk, base + c->lastkept);
		need = size_blocks(f, i);
		if (base + c->lastkept <= need)
			continue;
		if (!have || loaded != m->chunk) {
			free(map);
			rc = meta_check_chunk_map(f->mc, m->chunk, &map, &n,
						  &bytes);
			if (rc)
				goto out;
			loaded = m->chunk;
			have = true;
		}
		for (size_t idx = need > base ? need - base : 0;
		     idx < MIN(n, (size_t)c->lastkept); idx++) {
			struct eof_block *e;

			if (!map[idx] || map[idx] >= f->pack_slots ||
			    slot_is_zero(f, map[idx]))
				continue;
			e = vec_push(&eof, sizeof(*e));
			if (!e) {
				rc = -ENOMEM;
				goto out;
			}
			e->i = i;
			e->block = base + idx;
			e->cpos = m->cpos;
			e->idx = (uint32_t)idx;
			e->slot = map[idx];
			e->unmappable =
				past_every_eof(f, m->cpos, (uint32_t)idx);
		}
	}

	if (eof.n)
		qsort(eof.p, eof.n, sizeof(struct eof_block), cmp_eof);
	for (size_t k = 0, next; k < eof.n; k = next) {
		struct eof_block *e = &VEC_AT(eof, struct eof_block, k);
		bool all = true, apply;

		for (next = k; next < eof.n; next++) {
			struct eof_block *x;

			x = &VEC_AT(eof, struct eof_block, next);
			if (x->i != e->i)
				break;
			all = all && x->unmappable;
		}
		describe(f, e->i, desc, sizeof(desc));
		snprintf(fix, sizeof(fix), "unmapped");
		if (next - k == 1)
			apply = problem(f, all ? FIX_SAFE : FIX_NONE, fix,
					"%s: block %llu, past its size of %lld bytes, holds data",
					desc, (unsigned long long)e->block,
					(long long)f->in[e->i].size);
		else
			apply = problem(f, all ? FIX_SAFE : FIX_NONE, fix,
					"%s: %zu blocks past its size of %lld bytes hold data (the first is block %llu)",
					desc, next - k,
					(long long)f->in[e->i].size,
					(unsigned long long)e->block);
		for (size_t j = k; apply && j < next; j++) {
			struct eof_block *u =
				vec_push(&f->unmap, sizeof(struct eof_block));

			if (!u) {
				rc = -ENOMEM;
				goto out;
			}
			*u = VEC_AT(eof, struct eof_block, j);
		}
	}
	/* Unmap each (chunk, entry) once, however many files share it. */
	if (f->unmap.n)
		qsort(f->unmap.p, f->unmap.n, sizeof(struct eof_block),
		      cmp_unmap);
	for (size_t k = 0, w = 0; k < f->unmap.n; k++) {
		struct eof_block *u = &VEC_AT(f->unmap, struct eof_block, k);

		struct eof_block *prev =
			w ? &VEC_AT(f->unmap, struct eof_block, w - 1) : NULL;

		if (!prev || cmp_unmap(u, prev)) {
			VEC_AT(f->unmap, struct eof_block, w++) = *u;
			VEC_AT(f->ch, struct f_chunk, u->cpos).flags |=
				C_REWRITE;
			rc = unref_slot(f, u->slot);
			if (rc)
				goto out;
		}
		if (k == f->unmap.n - 1) {
			f->unmap.n = w;
			break;
		}
	}

	for (size_t i = 0; i < f->nin; i++) {
		struct f_inode *in = &f->in[i];
		int64_t want;

		if (!S_ISREG(in->mode) || in->size >= 0 ||
		    (in->flags & (I_DELETE | I_INVALID)))
			continue;
		want = (int64_t)(in->maxblk * f->bs);
		snprintf(fix, sizeof(fix), "set to %lld", (long long)want);
		if (problem(f, FIX_UNSAFE, fix, "%s: size %lld is negative",
			    describe(f, i, desc, sizeof(desc)),
			    (long long)in->size)) {
			in->size = want;
			in->flags |= I_SIZE_W;
		}
	}
out:
	free(map);
	vec_free(&eof);
	return rc;
}

/* --- phase 6: slots --- */

/*
 * Slot reference counts are not stored (format 3): a slot's count is the
 * number of chunk map entries naming it, so invariants (2) and (3) hold
 * by construction and what is left to check is the checksum rows. A row
 * belongs to a slot that a kept map entry names. A row of a slot that
 * only entries removed by an earlier repair name goes with them, without
 * a finding of its own (as the daemon deletes the sum of a slot it
 * frees); any other row is stale (a slot no map names, or no slot at
 * all) and is deleted, so that the slot, once reused, cannot inherit
 * it. The slots the repair frees are punched.
 */

static int sum_delete(struct fsck *f, int64_t id)
{
	int64_t *p = vec_push(&f->sumdel, sizeof(*p));

	if (!p)
		return -ENOMEM;
	*p = id;
	return 0;
}

/* Counts the entries naming slot @s in kept[] and removed[]. */
static void slot_counts(struct fsck *f, uint64_t s, uint64_t *k, uint64_t *r)
{
	const uint64_t *kept = f->kept.p, *removed = f->removed.p;

	*k = *r = 0;
	while (f->kp < f->kept.n && kept[f->kp] == s) {
		f->kp++;
		(*k)++;
	}
	while (f->rp < f->removed.n && removed[f->rp] == s) {
		f->rp++;
		(*r)++;
	}
}

/*
 * The slots named by maps below @limit (all if @all) that have no
 * checksum row: counted if used, punched if the repair frees them.
 */
static int named_slots(struct fsck *f, uint64_t limit, bool all)
{
	const uint64_t *kept = f->kept.p, *removed = f->removed.p;

	for (;;) {
		bool hk = f->kp < f->kept.n, hr = f->rp < f->removed.n;
		uint64_t s, k, r;

		if (!hk && !hr)
			return 0;
		s = hk && hr ? MIN(kept[f->kp], removed[f->rp])
			     : hk ? kept[f->kp] : removed[f->rp];
		if (!all && s >= limit)
			return 0;
		slot_counts(f, s, &k, &r);
		if (k)
			f->slots_used++;
		else if (s < f->pack_slots && push_u64(&f->punch, s))
			return -ENOMEM;
	}
}

static int slot_cb(void *ctx, int64_t id)
{
	struct fsck *f = ctx;
	uint64_t k, r;
	int rc;

	prog_step(f);
	if (id <= 0) {
		if (problem(f, FIX_SAFE, "deleted",
			    "slot %lld has a checksum row, but is not a slot number",
			    (long long)id))
			return sum_delete(f, id);
		return 0;
	}
	rc = named_slots(f, (uint64_t)id, false);
	if (rc)
		return rc;
	slot_counts(f, (uint64_t)id, &k, &r);
	if (k) {
		/* Used (past the pack: lost, reported with the files). */
		f->slots_used++;
		return 0;
	}
	if (r) {
		/* Freed by an earlier repair: its sum goes with it. */
		if ((uint64_t)id < f->pack_slots &&
		    push_u64(&f->punch, (uint64_t)id))
			return -ENOMEM;
		return sum_delete(f, id);
	}
	if ((uint64_t)id >= f->pack_slots) {
		if (problem(f, FIX_SAFE, "deleted",
			    "slot %lld has a checksum row, but lies past the end of the pack (%llu slots)",
			    (long long)id, (unsigned long long)f->pack_slots))
			return sum_delete(f, id);
		return 0;
	}
	if (problem(f, FIX_SAFE, "deleted",
		    "slot %lld has a checksum row, but no chunk map entry names it (stale)",
		    (long long)id))
		return sum_delete(f, id);
	return 0;
}

static int check_slots(struct fsck *f)
{
	int rc;

	prog_phase(f, "checking slots", MC_SLOT);
	if (f->kept.n)
		qsort(f->kept.p, f->kept.n, sizeof(uint64_t), cmp_u64);
	if (f->removed.n)
		qsort(f->removed.p, f->removed.n, sizeof(uint64_t), cmp_u64);
	f->kp = f->rp = 0;
	rc = meta_check_slots(f->mc, slot_cb, f);
	if (!rc)
		rc = named_slots(f, 0, true);
	if (rc)
		return db_fail(f, "check the slots", rc);
	return 0;
}

/* --- phase 7: the rest --- */

static int xattr_cb(void *ctx, int64_t ino)
{
	struct fsck *f = ctx;
	int64_t *p;

	if (!problem(f, FIX_SAFE, "deleted",
		     "extended attributes of ino %lld, which does not exist",
		     (long long)ino))
		return 0;
	p = vec_push(&f->xorph, sizeof(*p));
	if (!p)
		return -ENOMEM;
	*p = ino;
	return 0;
}

static int check_rest(struct fsck *f)
{
	char fix[64];
	int64_t want = first_free_ino(f);
	int rc = meta_check_xattr_orphans(f->mc, xattr_cb, f);

	if (rc)
		return db_fail(f, "check the extended attributes", rc);
	if (f->lf != NONE && (f->in[f->lf].flags & I_NEW))
		want = MAX(want, f->in[f->lf].ino + 1);
	f->next_ino = f->sb.have_next_ino ? f->sb.next_ino : 0;
	if (!f->sb.have_next_ino || f->sb.next_ino <= f->max_ino) {
		snprintf(fix, sizeof(fix), "set to %lld", (long long)want);
		if (problem(f, FIX_SAFE, fix,
			    "super: next_ino is %lld, but inode %lld exists",
			    (long long)f->next_ino, (long long)f->max_ino))
			f->next_ino = want;
	} else {
		f->next_ino = want;
	}
	return 0;
}

/* --- repair --- */

/* Rewrites a chunk's map by the rules chunk_cb applied. */
static int rewrite_map(struct fsck *f, size_t cpos)
{
	int64_t id = VEC_AT(f->ch, struct f_chunk, cpos).id;
	uint64_t *map;
	size_t n, bytes;
	int rc = meta_check_chunk_map(f->mc, id, &map, &n, &bytes);

	if (rc)
		return rc;
	if ((bytes % sizeof(uint64_t) || n > f->cblocks) && f->apply_unsafe)
		n = MIN(n, (size_t)f->cblocks);
	if (f->apply_unsafe)
		for (size_t i = 0; i < n; i++)
			if (map[i] >= f->pack_slots)
				map[i] = 0;
	for (size_t k = 0; k < f->unmap.n; k++) {
		struct eof_block *u = &VEC_AT(f->unmap, struct eof_block, k);

		if (u->cpos == cpos && u->idx < n)
			map[u->idx] = 0;
	}
	rc = meta_check_chunk_set_map(f->mc, id, map, n);
	free(map);
	return rc;
}

/* Writes every repair in the model, in the open transaction. */
static int write_repairs(struct fsck *f)
{
	struct meta_check *mc = f->mc;
	int rc = 0;

	prog_phase(f, "repairing", -1);
	for (size_t k = 0; !rc && k < f->nde; k++)
		if (f->de[k].flags & D_DROP)
			rc = meta_check_dentry_delete(mc, f->de[k].id);
	for (size_t i = 0; !rc && i < f->nin; i++)
		if ((f->in[i].flags & I_DELETE) && !(f->in[i].flags & I_NEW))
			rc = meta_check_inode_delete(mc, f->in[i].ino);
	if (!rc && f->lf != NONE && (f->in[f->lf].flags & I_NEW))
		rc = meta_check_mkdir(mc, f->in[f->lf].ino, f->in[f->lf].mode,
				      f->in[f->lf].nlink, now_ns());
	for (size_t k = 0; !rc && k < f->newdent.n; k++) {
		struct f_newdent *nd = &VEC_AT(f->newdent, struct f_newdent, k);

		rc = meta_check_dentry_insert(mc, nd->parent, nd->name,
					      strlen(nd->name), nd->ino);
	}
	for (size_t i = 0; !rc && i < f->nin; i++) {
		struct f_inode *in = &f->in[i];

		if (in->flags & (I_DELETE | I_NEW))
			continue;
		if (in->flags & I_NLINK_W)
			rc = meta_check_inode_set_nlink(mc, in->ino, in->nlink);
		if (!rc && (in->flags & I_SIZE_W))
			rc = meta_check_inode_set_size(mc, in->ino, in->size);
	}
	for (size_t p = 0; !rc && p < f->nfm; p++)
		if (f->fm[p].flags & F_DROP)
			rc = meta_check_fmap_delete(mc, f->fm[p].ino,
						    f->fm[p].cidx);
	for (size_t k = 0; !rc && k < f->ch.n; k++) {
		struct f_chunk *c = &VEC_AT(f->ch, struct f_chunk, k);

		if (c->flags & C_DELETE) {
			rc = meta_check_chunk_delete(mc, c->id);
			continue;
		}
		if (c->flags & C_REWRITE)
			rc = rewrite_map(f, k);
		if (!rc && c->refs != (int64_t)c->kept)
			rc = meta_check_chunk_set_refs(mc, c->id, c->kept);
	}
	for (size_t k = 0; !rc && k < f->sumdel.n; k++)
		rc = meta_check_slot_delete(mc, VEC_AT(f->sumdel, int64_t, k));
	for (size_t k = 0; !rc && k < f->xorph.n; k++)
		rc = meta_check_xattrs_delete(mc, VEC_AT(f->xorph, int64_t, k));
	if (!rc && (!f->sb.have_next_ino || f->next_ino != f->sb.next_ino))
		rc = meta_check_set_next_ino(mc, f->next_ino);
	return rc;
}

/* Punches the slots the repair freed; failure only costs space. */
static void punch_freed(struct fsck *f)
{
	uint64_t *s = f->punch.p;
	size_t n = f->punch.n;

	if (n)
		qsort(s, n, sizeof(*s), cmp_u64);
	for (size_t k = 0, next; k < n; k = next) {
		for (next = k + 1; next < n && s[next] <= s[next - 1] + 1;
		     next++)
			;
		if (fallocate(f->packfd,
			      FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      (off_t)(s[k] * f->bs),
			      (off_t)((s[next - 1] - s[k] + 1) * f->bs)) < 0)
			break;
	}
}

/* --- driver --- */

static void free_model(struct fsck *f)
{
	free(f->in);
	free(f->de);
	free(f->by_ino);
	free(f->fm);
	f->in = NULL;
	f->de = NULL;
	f->by_ino = NULL;
	f->fm = NULL;
	f->nin = f->incap = f->nde = f->decap = f->nfm = f->fmcap = 0;
	vec_free(&f->newdent);
	vec_free(&f->ch);
	vec_free(&f->kept);
	vec_free(&f->removed);
	vec_free(&f->pastend);
	vec_free(&f->sumdel);
	vec_free(&f->punch);
	vec_free(&f->xorph);
	vec_free(&f->unmap);
	vec_free(&f->damaged);
	vec_free(&f->damaged_blocks);
	f->lf = NONE;
	f->lf_looked = f->lf_ok = false;
	f->max_ino = f->next_ino = 0;
	f->slots_used = f->inodes_live = 0;
}

/* --- phase 8 (--scrub): every checksummed slot against its sum --- */

static int sum_cb(void *ctx, int64_t id, const void *sum, size_t len)
{
	struct fsck *f = ctx;
	uint8_t got[META_SUM_SIZE];
	uint64_t *bad;

	prog_step(f);
	if (len != META_SUM_SIZE) {
		problem(f, FIX_NONE, "", "slot %lld has a malformed checksum (%zu bytes)",
			(long long)id, len);
		return 0;
	}
	f->scrubbed++;
	/* A block that cannot be read is as damaged as a wrong one. */
	if (store_hash_block(f->packfd, (uint64_t)id * f->bs, f->zbuf, f->bs,
			     got) == 0 &&
	    memcmp(got, sum, META_SUM_SIZE) == 0)
		return 0;
	bad = vec_push(&f->damaged, sizeof(*bad));
	if (!bad)
		return -ENOMEM;
	*bad = (uint64_t)id;
	return 0;
}

/* Finds the file blocks that name a damaged slot (sorted in f->damaged). */
static int damaged_chunk_cb(void *ctx, const struct meta_check_chunk *c)
{
	struct fsck *f = ctx;
	const uint64_t *d = f->damaged.p;

	for (size_t j = 0; j < c->n; j++) {
		size_t lo = 0, hi = f->damaged.n;

		if (c->map[j] == 0)
			continue;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (d[mid] < c->map[j])
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < f->damaged.n && d[lo] == c->map[j] &&
		    add_file_blocks(f, &f->damaged_blocks, c->id, j))
			return -ENOMEM;
	}
	return 0;
}

static int check_scrub(struct fsck *f)
{
	int rc;

	if (!f->zbuf && !(f->zbuf = malloc(f->bs)))
		return db_fail(f, "scrub", -ENOMEM);
	prog_phase(f, "scrubbing data", MC_SLOT);
	rc = meta_check_sums(f->mc, sum_cb, f);
	if (!rc && f->damaged.n)
		rc = meta_check_chunks(f->mc, damaged_chunk_cb, f);
	if (rc)
		return db_fail(f, "scrub the pack", rc);
	report_blocks(f, &f->damaged_blocks, FIX_NONE, "", "",
		      "does not match its checksum (damaged data)",
		      "do not match their checksums (damaged data)");
	prog_clear(f);
	printf("%s: scrubbed %llu blocks (%llu MiB): %zu damaged, %llu not checksummed yet\n",
	       util_progname, (unsigned long long)f->scrubbed,
	       (unsigned long long)((f->scrubbed * f->bs) >> 20),
	       f->damaged.n,
	       (unsigned long long)(f->slots_used > f->scrubbed
					    ? f->slots_used - f->scrubbed
					    : 0));
	return 0;
}

/*
 * One full pass over meta.db inside one transaction. Returns 0, 1 if the
 * header or the super rows stop the check, or -1 on an operational error
 * (the transaction is then rolled back).
 */
static int check_pass(struct fsck *f, const unsigned char hdr[PACK_HDR_LEN])
{
	int rc = meta_check_begin(f->mc);

	if (rc) {
		if (rc == -EIO)
			fail(f, "store \"%s\": %s is not a usable database (%s)",
			     f->store, STORE_META_NAME,
			     meta_check_error(f->mc));
		else
			db_fail(f, "begin a transaction", rc);
		return -1;
	}
	f->apply_unsafe = can_apply(f, FIX_UNSAFE);
	if (!f->recheck) {
		rc = check_integrity(f);
		if (rc < 0)
			goto fail;
		if (rc > 0)
			return 1;
	}
	rc = check_super(f, hdr);
	if (rc < 0)
		goto fail;
	if (rc > 0)
		return 1;
	if (load_inodes(f) || check_names(f) || check_fmaps(f) ||
	    check_chunks(f))
		goto fail;
	rc = check_pastend(f);
	if (rc) {
		db_fail(f, "check the pack", rc);
		goto fail;
	}
	rc = check_sizes(f);
	if (rc) {
		db_fail(f, "check the file sizes", rc);
		goto fail;
	}
	if (check_slots(f) || check_rest(f))
		goto fail;
	if (f->scrub && !f->recheck && check_scrub(f))
		goto fail;
	return 0;
fail:
	meta_check_rollback(f->mc);
	return -1;
}

static int run(struct fsck *f)
{
	unsigned char hdr[PACK_HDR_LEN];
	char what[128] = "";
	uint64_t corrected;
	int rc;

	if (open_pack(f, hdr) || open_meta(f))
		return FSCK_ERROR;
	rc = check_pass(f, hdr);
	if (rc < 0)
		return FSCK_ERROR;
	if (rc > 0) {
		meta_check_rollback(f->mc);
		prog_clear(f);
		printf("%s: store \"%s\": %llu problem%s found; nothing can be checked or repaired until they are fixed\n",
		       util_progname, f->store, (unsigned long long)f->found,
		       f->found == 1 ? "" : "s");
		return FSCK_UNCORRECTED;
	}
	prog_clear(f);
	if (f->found == 0 && f->orphans_deleted == 0) {
		meta_check_rollback(f->mc);
		printf("%s: store \"%s\" is clean: %llu inode%s, %llu block%s in use\n",
		       util_progname, f->store,
		       (unsigned long long)f->inodes_live,
		       f->inodes_live == 1 ? "" : "s",
		       (unsigned long long)f->slots_used,
		       f->slots_used == 1 ? "" : "s");
		return FSCK_OK;
	}
	if (f->mode == MODE_CHECK) {
		meta_check_rollback(f->mc);
		printf("%s: store \"%s\": %llu problem%s found, none corrected (run fsck.cowfs -y to repair)\n",
		       util_progname, f->store, (unsigned long long)f->found,
		       f->found == 1 ? "" : "s");
		return FSCK_UNCORRECTED;
	}
	rc = write_repairs(f);
	if (!rc)
		rc = meta_check_commit(f->mc);
	if (rc) {
		db_fail(f, "write the repairs (nothing was changed)", rc);
		meta_check_rollback(f->mc);
		return FSCK_ERROR;
	}
	punch_freed(f);
	corrected = f->fixed;
	if (f->left) {
		prog_clear(f);
		printf("%s: store \"%s\": %llu problem%s found, %llu corrected, %llu left: run fsck.cowfs -y\n",
		       util_progname, f->store, (unsigned long long)f->found,
		       f->found == 1 ? "" : "s", (unsigned long long)f->fixed,
		       (unsigned long long)f->left);
		return FSCK_UNCORRECTED;
	}

	/* Check again: a repair must leave a clean store. */
	free_model(f);
	f->found = 0;
	f->recheck = true;
	rc = check_pass(f, hdr);
	meta_check_rollback(f->mc);
	prog_clear(f);
	if (rc < 0)
		return FSCK_ERROR;
	if (rc > 0 || f->found) {
		printf("%s: store \"%s\": %llu problem%s left after the repair\n",
		       util_progname, f->store, (unsigned long long)f->found,
		       f->found == 1 ? "" : "s");
		return FSCK_UNCORRECTED;
	}
	if (corrected)
		snprintf(what, sizeof(what), "%llu problem%s corrected",
			 (unsigned long long)corrected,
			 corrected == 1 ? "" : "s");
	if (f->orphans_deleted)
		snprintf(what + strlen(what), sizeof(what) - strlen(what),
			 "%s%llu orphan%s deleted", corrected ? ", " : "",
			 (unsigned long long)f->orphans_deleted,
			 f->orphans_deleted == 1 ? "" : "s");
	printf("%s: store \"%s\": %s; the store is clean: %llu inode%s, %llu block%s in use\n",
	       util_progname, f->store, what,
	       (unsigned long long)f->inodes_live,
	       f->inodes_live == 1 ? "" : "s",
	       (unsigned long long)f->slots_used,
	       f->slots_used == 1 ? "" : "s");
	return FSCK_CORRECTED;
}

static void usage(FILE *fp)
{
	fprintf(fp,
		"usage: fsck.cowfs [-n|-y|-p] [-f] [--scrub] [--progress|--no-progress] STORE\n"
		"\n"
		"Checks the cowfs store in the directory STORE, which must not be in use.\n"
		"\n"
		"  -n               check only, change nothing (the default)\n"
		"  -y               repair everything that can be repaired\n"
		"  -p, -a           repair only what is safe to repair unattended\n"
		"  -f               accepted for fsck(8); the check is always full\n"
		"  --scrub          also read every block that has a checksum and\n"
		"                   name the files whose data does not match it\n"
		"  --progress       show progress on standard error\n"
		"  --no-progress    never show progress\n"
		"  -h, --help       print this help\n"
		"  -V, --version    print the version\n"
		"\n"
		"Exit status: 0 clean, 1 errors corrected, 4 errors left uncorrected,\n"
		"8 operational error, 16 usage error.\n");
}

int main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "progress", no_argument, NULL, 'P' },
		{ "no-progress", no_argument, NULL, 'Q' },
		{ "scrub", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct fsck f = { .dirfd = -1, .packfd = -1, .lf = NONE };
	int progress = -1, c, rc, modes = 0;

	util_progname = "fsck.cowfs";
	setvbuf(stdout, NULL, _IOLBF, 0);
	f.mode = MODE_CHECK;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "nypafhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			f.mode = MODE_CHECK;
			modes++;
			break;
		case 'y':
			f.mode = MODE_REPAIR;
			modes++;
			break;
		case 'p':
		case 'a':
			f.mode = MODE_PREEN;
			modes++;
			break;
		case 'f':
			break;
		case 'P':
			progress = 1;
			break;
		case 'Q':
			progress = 0;
			break;
		case 'S':
			f.scrub = true;
			break;
		case 'h':
			usage(stdout);
			return FSCK_OK;
		case 'V':
			printf("fsck.cowfs %s (store format %d)\n",
			       PACKAGE_VERSION, META_FORMAT_VERSION);
			return FSCK_OK;
		default:
			log_msg("unknown option \"%s\" (see --help)",
				argv[optind - 1]);
			return FSCK_USAGE;
		}
	}
	if (modes > 1) {
		log_msg("-n, -y and -p exclude each other (see --help)");
		return FSCK_USAGE;
	}
	if (optind != argc - 1) {
		log_msg(optind == argc ? "no store directory given (see --help)"
				       : "too many arguments (see --help)");
		return FSCK_USAGE;
	}
	f.store = argv[optind];
	f.write = f.mode != MODE_CHECK;
	f.prog.on = progress < 0 ? isatty(STDERR_FILENO) : progress;
	f.prog.forced = progress > 0;
	f.prog.t0 = mono_ns();

	rc = run(&f);

	prog_clear(&f);
	meta_check_close(f.mc);
	free_model(&f);
	free(f.zbuf);
	if (f.packfd >= 0)
		close(f.packfd);
	if (f.dirfd >= 0)
		close(f.dirfd);
	return rc;
}
