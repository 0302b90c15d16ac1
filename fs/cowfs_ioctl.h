/*
 * cowfs_ioctl.h - the ioctls cowctl sends through a cowfs mount.
 *
 * FUSE forwards an ioctl whose argument size is encoded in its number
 * (_IOR/_IOW) to the daemon, on files and, with FUSE_CAP_IOCTL_DIR, on
 * directories. The caller only needs the file open: the kernel's
 * permission checks and the caller's identity come with it.
 */
#ifndef COWFS_IOCTL_H
#define COWFS_IOCTL_H

#include <stdint.h>
#include <sys/ioctl.h>

struct cowfs_ioc_stat {
	uint64_t size;		/* logical size (st_size) */
	uint64_t allocated;	/* bytes in mapped blocks */
	uint64_t shared;	/* of those, in blocks shared with anything */
	uint64_t block_size;	/* the store's block size */
	uint64_t store_used;	/* bytes of slots in use in the whole store */
	/*
	 * The data path since mount: payload bytes that moved by splice
	 * (never entering the daemon's memory) and bytes that were copied
	 * through it, for reads (replies) and writes.
	 */
	uint64_t read_spliced, read_copied;
	uint64_t write_spliced, write_copied;
	/*
	 * Bytes of the whole store in use and not checksummed yet: written
	 * in the last sum_delay seconds or so, or queued for the
	 * background checksums (0: the store is quiet).
	 */
	uint64_t unsummed;
	uint64_t reserved[3];
};

#define COWFS_IOC_STAT _IOR('C', 1, struct cowfs_ioc_stat)

/*
 * One step of a scrub (root only): the daemon reads the slots that have a
 * checksum from slot @start on, about @max_bytes of them, and compares.
 * Call again with @start = @next until @next is 0.
 */
#define COWFS_SCRUB_BAD_MAX 32
struct cowfs_scrub_bad {
	uint64_t slot;
	uint64_t ino;		/* a file holding the slot (0: none found) */
	uint64_t offset;	/* where in that file the block starts */
};

struct cowfs_ioc_scrub {
	uint64_t start;		/* in: first slot (0: the beginning) */
	uint64_t max_bytes;	/* in: how much to read in this step */
	uint64_t next;		/* out: where to go on; 0 when done */
	uint64_t checked;	/* out: slots read and compared */
	uint64_t store_slots;	/* out: slots in use in the store */
	uint64_t unsummed;	/* out: of those, not checksummed yet */
	uint64_t block_size;	/* out */
	uint64_t nbad;		/* out: entries in bad[] */
	uint64_t more_bad;	/* out: damaged blocks that did not fit */
	struct cowfs_scrub_bad bad[COWFS_SCRUB_BAD_MAX];
};

#define COWFS_IOC_SCRUB _IOWR('C', 2, struct cowfs_ioc_scrub)

/* The path of inode @ino below the mount's root (root only). */
struct cowfs_ioc_path {
	uint64_t ino;
	char path[4088];
};

#define COWFS_IOC_PATH _IOWR('C', 3, struct cowfs_ioc_path)

/*
 * Which store the daemon behind this mount serves (anyone may ask).
 * `cowfs STORE MNT2` asks it of a mount of STORE before it makes MNT2 a
 * bind mount of it (fs/bind.c): the pack file the daemon has open must be
 * STORE/blocks itself, so a stale mount, a mount of another store that was
 * moved or replaced, or another filesystem, is never bound.
 */
struct cowfs_ioc_store {
	uint64_t pack_dev;	/* st_dev of the daemon's open pack file */
	uint64_t pack_ino;	/* st_ino of it */
	uint64_t pid;		/* the daemon's process id */
	uint64_t flags;		/* COWFS_STORE_* */
	uint64_t reserved[4];
};

#define COWFS_STORE_READONLY 1	/* the store is open read-only (-o ro) */

#define COWFS_IOC_STORE _IOR('C', 4, struct cowfs_ioc_store)

#endif
