/*
 * map.c - block maps and copy-on-write.
 *
 * A file's map is its sorted list of (chunk index, chunk); a chunk holds the
 * slot numbers of chunk_blocks consecutive blocks (doc/DESIGN.md section 2).
 * Chunks are cached in a hash by id and shared by every loaded map that
 * names them, so two clones of a file use one struct chunk until one of
 * them writes.
 *
 * Writing block b of a file (map_prepare_write):
 *  1. no chunk for b: a new chunk (refs 1) and a new fmap row;
 *  2. the chunk is shared (refs > 1): the file gets a private copy of the
 *     chunk, every slot in it gaining a reference (invariant 2), and the
 *     shared chunk loses one (invariant 1);
 *  3. the block is a hole: a new slot, zeroed first if it was used before
 *     and the write covers only part of it (invariant 6);
 *  4. the slot may not be written in place (invariant 4: it is shared now,
 *     or was at the last commit, directly or because its chunk was): a new
 *     slot, the part of the old block that the write does not cover copied
 *     into it inside the kernel, and the old slot loses a reference.
 * Only step 1 and 2 run SQL at once; everything else marks the chunk dirty
 * and is written by map_flush() at the next commit.
 *
 * Everything here runs with fs->lock held.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs/fs.h"
#include "fs/util.h"

static size_t chunk_hash(const struct fs *fs, uint64_t id)
{
	return (size_t)((id * 0x9e3779b97f4a7c15ull) >> 20) &
	       (fs->ctab_size - 1);
}

static void chunk_mark_dirty(struct fs *fs, struct chunk *c)
{
	if (c->dirty)
		return;
	c->dirty = true;
	c->dnext = fs->dirty_chunks;
	fs->dirty_chunks = c;
	fs_note_changes(fs, 1);
}

static int chunk_grow_table(struct fs *fs)
{
	size_t size = fs->ctab_size ? fs->ctab_size * 2 : 1024;
	struct chunk **t = calloc(size, sizeof(*t));

	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < fs->ctab_size; i++) {
		struct chunk *c = fs->ctab[i], *next;

		for (; c; c = next) {
			size_t h = (size_t)((c->id * 0x9e3779b97f4a7c15ull) >>
					    20) & (size - 1);
			next = c->hnext;
			c->hnext = t[h];
			t[h] = c;
		}
	}
	free(fs->ctab);
	fs->ctab = t;
	fs->ctab_size = size;
	return 0;
}

static int chunk_hash_insert(struct fs *fs, struct chunk *c)
{
	size_t h;

	if (fs->nchunks >= fs->ctab_size && chunk_grow_table(fs))
		return -ENOMEM;
	h = chunk_hash(fs, c->id);
	c->hnext = fs->ctab[h];
	fs->ctab[h] = c;
	c->hashed = true;
	fs->nchunks++;
	return 0;
}

static void chunk_unhash(struct fs *fs, struct chunk *c)
{
	struct chunk **pp = &fs->ctab[chunk_hash(fs, c->id)];

	if (!c->hashed)
		return;
	while (*pp && *pp != c)
		pp = &(*pp)->hnext;
	if (*pp) {
		*pp = c->hnext;
		fs->nchunks--;
	}
	c->hashed = false;
}

static void chunk_free(struct fs *fs, struct chunk *c)
{
	chunk_unhash(fs, c);
	free(c->slot);
	free(c);
}

static int chunk_reserve(struct chunk *c, uint32_t n)
{
	uint32_t cap = c->cap ? c->cap : 4;
	uint64_t *p;

	if (n <= c->cap)
		return 0;
	while (cap < n)
		cap *= 2;
	p = realloc(c->slot, cap * sizeof(*p));
	if (!p)
		return -ENOMEM;
	memset(p + c->cap, 0, (cap - c->cap) * sizeof(*p));
	c->slot = p;
	c->cap = cap;
	return 0;
}

/* Finds a chunk in the cache or loads it. */
static struct chunk *chunk_get(struct fs *fs, uint64_t id, int *err)
{
	struct chunk *c;

	if (fs->ctab_size)
		for (c = fs->ctab[chunk_hash(fs, id)]; c; c = c->hnext)
			if (c->id == id)
				return c;
	c = calloc(1, sizeof(*c));
	if (!c) {
		*err = -ENOMEM;
		return NULL;
	}
	c->id = id;
	*err = meta_chunk_load(fs->st.meta, id, &c->refs, &c->slot, &c->n);
	if (!*err)
		*err = chunk_hash_insert(fs, c);
	if (*err) {
		free(c->slot);
		free(c);
		return NULL;
	}
	c->cap = c->n;
	c->crefs = c->refs;
	return c;
}

/* Creates a chunk with refs 1 holding a copy of @slots[0..n). */
static struct chunk *chunk_new(struct fs *fs, const uint64_t *slots,
			       uint32_t n, int *err)
{
	struct chunk *c = calloc(1, sizeof(*c));

	if (!c) {
		*err = -ENOMEM;
		return NULL;
	}
	c->refs = 1;
	*err = chunk_reserve(c, n ? n : 1);
	if (*err)
		goto fail;
	if (n)
		memcpy(c->slot, slots, n * sizeof(*slots));
	c->n = n;
	*err = meta_chunk_insert(fs->st.meta, 1, slots, n, &c->id);
	if (*err)
		goto fail;
	*err = chunk_hash_insert(fs, c);
	if (*err)
		goto fail;
	fs_note_changes(fs, 1);
	return c;
fail:
	free(c->slot);
	free(c);
	return NULL;
}

/* A loaded map stops naming @c. */
static void chunk_unuse(struct fs *fs, struct chunk *c)
{
	c->users--;
	if (c->users == 0 && !c->dirty)
		chunk_free(fs, c);
}

/*
 * Drops one persistent reference (an fmap row went away). At zero the
 * chunk's slots lose their references and its row is deleted.
 */
static int chunk_drop_ref(struct fs *fs, struct chunk *c)
{
	c->refs--;
	chunk_mark_dirty(fs, c);
	if (c->refs > 0)
		return 0;
	for (uint32_t i = 0; i < c->n; i++)
		if (c->slot[i])
			store_unref(&fs->st, c->slot[i]);
	c->n = 0;
	/* SQLite may give its id to the next new chunk: out of the hash. */
	chunk_unhash(fs, c);
	return meta_chunk_delete(fs->st.meta, c->id);
}

/* Index of the map entry for @cidx, or where it would be inserted. */
static size_t fmap_find(const struct inode *in, uint64_t cidx)
{
	size_t lo = 0, hi = in->nmap;

	/* Sequential access hits the last entry: check it first. */
	if (hi && in->map[hi - 1].cidx < cidx)
		return hi;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (in->map[mid].cidx < cidx)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct fmap_ent *fmap_get(struct inode *in, uint64_t cidx)
{
	size_t i = fmap_find(in, cidx);

	return i < in->nmap && in->map[i].cidx == cidx ? &in->map[i] : NULL;
}

static int fmap_insert(struct inode *in, uint64_t cidx, struct chunk *c)
{
	size_t i = fmap_find(in, cidx);

	if (in->nmap == in->map_cap) {
		size_t cap = in->map_cap ? in->map_cap * 2 : 1;
		struct fmap_ent *p = realloc(in->map, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		in->map = p;
		in->map_cap = cap;
	}
	memmove(&in->map[i + 1], &in->map[i],
		(in->nmap - i) * sizeof(*in->map));
	in->map[i].cidx = cidx;
	in->map[i].c = c;
	in->nmap++;
	c->users++;
	return 0;
}

static void fmap_remove(struct inode *in, size_t i)
{
	memmove(&in->map[i], &in->map[i + 1],
		(in->nmap - i - 1) * sizeof(*in->map));
	in->nmap--;
}

static uint64_t chunk_count(const struct chunk *c)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i < c->n; i++)
		n += c->slot[i] != 0;
	return n;
}

struct load_ctx {
	struct fs *fs;
	struct inode *in;
};

static int load_one(void *ctx, uint64_t cidx, uint64_t id)
{
	struct load_ctx *l = ctx;
	int err;
	struct chunk *c = chunk_get(l->fs, id, &err);

	if (!c)
		return err;
	err = fmap_insert(l->in, cidx, c);
	if (err)
		return err;
	l->in->nblocks += chunk_count(c);
	return 0;
}

int map_load(struct fs *fs, struct inode *in)
{
	struct load_ctx l = { fs, in };
	int rc;

	if (in->map_loaded)
		return 0;
	in->nblocks = 0;
	rc = meta_fmap_load(fs->st.meta, in->ino, load_one, &l);
	if (rc) {
		map_release(fs, in);
		return rc;
	}
	in->map_loaded = true;
	return 0;
}

void map_release(struct fs *fs, struct inode *in)
{
	for (size_t i = 0; i < in->nmap; i++)
		chunk_unuse(fs, in->map[i].c);
	free(in->map);
	in->map = NULL;
	in->nmap = in->map_cap = 0;
	in->nblocks = 0;
	in->map_loaded = false;
}

uint64_t map_lookup(struct fs *fs, struct inode *in, uint64_t b)
{
	struct fmap_ent *e = fmap_get(in, b / fs->st.chunk_blocks);
	uint32_t i = (uint32_t)(b % fs->st.chunk_blocks);

	if (!e || i >= e->c->n)
		return 0;
	return e->c->slot[i];
}

/* Gives the file a private copy of the shared chunk in @e (step 2). */
static int chunk_unshare(struct fs *fs, struct inode *in, struct fmap_ent *e)
{
	struct chunk *old = e->c, *c;
	int err;

	c = chunk_new(fs, old->slot, old->n, &err);
	if (!c)
		return err;
	for (uint32_t i = 0; i < c->n; i++)
		if (c->slot[i])
			store_ref(&fs->st, c->slot[i]);
	err = meta_fmap_set(fs->st.meta, in->ino, e->cidx, c->id);
	if (err)
		return err;
	old->refs--;
	chunk_mark_dirty(fs, old);
	c->users++;
	e->c = c;
	chunk_unuse(fs, old);
	return 0;
}

/* Returns the map entry for @cidx, creating or unsharing it (steps 1, 2). */
static struct fmap_ent *chunk_for_write(struct fs *fs, struct inode *in,
					uint64_t cidx, int *err)
{
	struct fmap_ent *e = fmap_get(in, cidx);
	struct chunk *c;

	*err = 0;
	if (!e) {
		c = chunk_new(fs, NULL, 0, err);
		if (!c)
			return NULL;
		*err = meta_fmap_set(fs->st.meta, in->ino, cidx, c->id);
		if (!*err)
			*err = fmap_insert(in, cidx, c);
		if (*err)
			return NULL;
		return fmap_get(in, cidx);
	}
	if (e->c->refs > 1) {
		*err = chunk_unshare(fs, in, e);
		if (*err)
			return NULL;
	}
	return e;
}

/*
 * The chunk of block @b of @in, made writable (steps 1 and 2), with room
 * for the block's entry, and the block's current slot in *@old (0: hole).
 */
static int block_for_write(struct fs *fs, struct inode *in, uint64_t b,
			   struct chunk **c, uint64_t *old)
{
	uint32_t i = (uint32_t)(b % fs->st.chunk_blocks);
	struct fmap_ent *e;
	int err;

	e = chunk_for_write(fs, in, b / fs->st.chunk_blocks, &err);
	if (!e)
		return err;
	err = chunk_reserve(e->c, i + 1);
	if (err)
		return err;
	*c = e->c;
	*old = i < e->c->n ? e->c->slot[i] : 0;
	return 0;
}

/*
 * Points entry @i of @in's writable chunk @c at @slot (whose reference the
 * caller holds), dropping the reference of the slot it named before.
 */
static void chunk_set(struct fs *fs, struct inode *in, struct chunk *c,
		      uint32_t i, uint64_t slot)
{
	uint64_t old = i < c->n ? c->slot[i] : 0;

	if (old)
		store_unref(&fs->st, old);
	else
		in->nblocks++;
	c->slot[i] = slot;
	if (i >= c->n)
		c->n = i + 1;
	chunk_mark_dirty(fs, c);
}

int map_permit(struct fs *fs, struct inode *in, uint64_t b)
{
	struct fmap_ent *e = fmap_get(in, b / fs->st.chunk_blocks);
	uint32_t i = (uint32_t)(b % fs->st.chunk_blocks);
	struct chunk *c = e ? e->c : NULL;
	int rc, wait;

	if (!c || i >= c->n || !c->slot[i] || c->refs > 1 || c->crefs > 1)
		return 0; /* a hole, or copied on write anyway */
	wait = store_permit(&fs->st, c->slot[i]);
	if (wait <= 0)
		return wait;
	/* The rest of the chunk too: one commit for 1024 blocks. */
	for (uint32_t k = 0; k < c->n; k++) {
		if (!c->slot[k] || k == i)
			continue;
		rc = store_permit(&fs->st, c->slot[k]);
		if (rc < 0)
			break;
	}
	rc = store_permit_flush(&fs->st);
	if (rc)
		return rc;
	fs_note_changes(fs, 1);
	return 1;
}

int64_t map_prepare_write(struct fs *fs, struct inode *in, uint64_t b,
			  uint32_t off, uint32_t len)
{
	struct store *st = &fs->st;
	uint32_t i = (uint32_t)(b % st->chunk_blocks);
	bool partial = off > 0 || len < fs->bs, zeroed;
	struct chunk *c;
	uint64_t old, slot, hint;
	int err;

	err = block_for_write(fs, in, b, &c, &old);
	if (err)
		return err;
	if (old && store_slot_private(st, old) && c->crefs <= 1) {
		store_note_write(st, old);
		return (int64_t)old;
	}

	hint = i > 0 && c->slot[i - 1] ? c->slot[i - 1] + 1 : 0;
	err = store_alloc(st, hint, &slot, &zeroed);
	if (err)
		return err;
	/*
	 * Step 4: what the write leaves of the old block. The whole block in
	 * one copy (one read of it if it is not cached); the write then
	 * covers its part.
	 */
	if (old && partial)
		err = store_copy(st, old, slot, 0, fs->bs);
	else if (!zeroed && partial)
		err = store_zero(st, slot, 0, fs->bs);
	if (err) {
		store_unref(st, slot);
		return err;
	}
	chunk_set(fs, in, c, i, slot);
	return (int64_t)slot;
}

/* Removes the whole chunk entry at index @k of the map. */
static int unmap_chunk(struct fs *fs, struct inode *in, size_t k)
{
	struct chunk *c = in->map[k].c;
	int rc;

	rc = meta_fmap_delete(fs->st.meta, in->ino, in->map[k].cidx);
	if (rc)
		return rc;
	in->nblocks -= chunk_count(c);
	fmap_remove(in, k);
	rc = chunk_drop_ref(fs, c);
	chunk_unuse(fs, c);
	return rc;
}

int map_unmap(struct fs *fs, struct inode *in, uint64_t first, uint64_t last)
{
	uint64_t C = fs->st.chunk_blocks;
	size_t k = fmap_find(in, first / C);
	int rc = 0;

	while (k < in->nmap && in->map[k].cidx <= last / C) {
		struct fmap_ent *e = &in->map[k];
		uint64_t base = e->cidx * C;
		uint32_t from = first > base ? (uint32_t)(first - base) : 0;
		uint32_t to = last - base >= C - 1 ? (uint32_t)(C - 1)
						    : (uint32_t)(last - base);
		struct chunk *c;

		if (from == 0 && (to == C - 1 || to + 1 >= e->c->n)) {
			rc = unmap_chunk(fs, in, k);
			if (rc)
				return rc;
			continue;
		}
		if (from < e->c->n && e->c->refs > 1) {
			rc = chunk_unshare(fs, in, e);
			if (rc)
				return rc;
		}
		c = e->c;
		for (uint32_t i = from; i <= to && i < c->n; i++) {
			if (!c->slot[i])
				continue;
			store_unref(&fs->st, c->slot[i]);
			c->slot[i] = 0;
			in->nblocks--;
			chunk_mark_dirty(fs, c);
		}
		while (c->n && c->slot[c->n - 1] == 0)
			c->n--;
		if (c->n == 0) {
			rc = unmap_chunk(fs, in, k);
			if (rc)
				return rc;
			continue;
		}
		k++;
	}
	return 0;
}

int map_zero_partial(struct fs *fs, struct inode *in, uint64_t b,
		     uint32_t off, uint32_t len)
{
	int64_t slot;

	if (len == 0 || map_lookup(fs, in, b) == 0)
		return 0;
	slot = map_prepare_write(fs, in, b, off, len);
	if (slot < 0)
		return (int)slot;
	return store_zero(&fs->st, (uint64_t)slot, off, len);
}

int map_free_all(struct fs *fs, struct inode *in)
{
	int rc = map_load(fs, in);

	while (!rc && in->nmap > 0)
		rc = unmap_chunk(fs, in, in->nmap - 1);
	return rc;
}

int map_share_block(struct fs *fs, struct inode *dst, uint64_t bo,
		    struct inode *src, uint64_t bi)
{
	uint32_t i = (uint32_t)(bo % fs->st.chunk_blocks);
	uint64_t slot = map_lookup(fs, src, bi), old;
	struct chunk *c;
	int err;

	if (slot == 0)
		return map_lookup(fs, dst, bo) ? map_unmap(fs, dst, bo, bo) : 0;
	err = block_for_write(fs, dst, bo, &c, &old);
	if (err)
		return err;
	if (old == slot)
		return 0;
	store_ref(&fs->st, slot);
	chunk_set(fs, dst, c, i, slot);
	return 0;
}

int map_share_chunk(struct fs *fs, struct inode *dst, uint64_t co,
		    struct inode *src, uint64_t ci)
{
	struct fmap_ent *se = fmap_get(src, ci), *de = fmap_get(dst, co);
	struct chunk *c = se ? se->c : NULL;
	int rc = 0;

	if (de && de->c == c)
		return 0;
	if (c)
		c->users++; /* keeps it alive if unmapping below drops it */
	if (de)
		rc = unmap_chunk(fs, dst, (size_t)(de - dst->map));
	if (!rc && c) {
		rc = meta_fmap_set(fs->st.meta, dst->ino, co, c->id);
		if (!rc)
			rc = fmap_insert(dst, co, c);
		if (!rc) {
			c->refs++;
			chunk_mark_dirty(fs, c);
			dst->nblocks += chunk_count(c);
		}
	}
	if (c)
		chunk_unuse(fs, c);
	return rc;
}

void map_stat(struct fs *fs, struct inode *in, uint64_t *allocated,
	      uint64_t *shared)
{
	*allocated = *shared = 0;
	for (size_t k = 0; k < in->nmap; k++) {
		const struct chunk *c = in->map[k].c;

		for (uint32_t i = 0; i < c->n; i++) {
			if (!c->slot[i])
				continue;
			(*allocated)++;
			if (c->refs > 1 ||
			    store_slot_count(&fs->st, c->slot[i]) > 1)
				(*shared)++;
		}
	}
	*allocated <<= fs->bshift;
	*shared <<= fs->bshift;
}

int map_flush(struct fs *fs)
{
	for (struct chunk *c = fs->dirty_chunks; c; c = c->dnext) {
		int rc;

		if (c->refs == 0)
			continue; /* deleted */
		rc = meta_chunk_update(fs->st.meta, c->id, c->refs, c->slot,
				       c->n);
		if (rc)
			return rc;
	}
	return 0;
}

void map_post_commit(struct fs *fs)
{
	struct chunk *c = fs->dirty_chunks, *next;

	fs->dirty_chunks = NULL;
	for (; c; c = next) {
		next = c->dnext;
		c->dirty = false;
		c->dnext = NULL;
		c->crefs = c->refs;
		if (c->users == 0)
			chunk_free(fs, c);
	}
}
