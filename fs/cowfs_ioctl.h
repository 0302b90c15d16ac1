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
	uint64_t reserved[4];
};

#define COWFS_IOC_STAT _IOR('C', 1, struct cowfs_ioc_stat)

#endif
