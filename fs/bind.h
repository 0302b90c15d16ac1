/*
 * bind.h - a second mount point of a store that a cowfs daemon serves
 * already: a bind mount of the first (fs/bind.c).
 */
#ifndef COWFS_BIND_H
#define COWFS_BIND_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/mount.h>

/*
 * Mount flags that belong to a mount point rather than to the filesystem
 * (MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_NOATIME, MS_NODIRATIME):
 * a second mount point gets its own, as asked on its command line.
 */
#define BIND_MOUNT_FLAGS_DEFAULT (MS_NOSUID | MS_NODEV) /* libfuse's */

/*
 * If the store at @store (a real path) is mounted by a running cowfs
 * daemon, makes @mountpoint a bind mount of that mount, with the
 * per-mount flags @flags (and read-only if the daemon opened the store
 * read-only). Only root does this; for any other user it returns 0 at
 * once. Returns 1 when @mountpoint is mounted; 0 when no live cowfs mount
 * of this very store was found (the caller mounts the store itself, and
 * its lock says why not if it cannot); -errno with a one-line reason in
 * @err when the store is mounted but @mountpoint could not be made a
 * mount point of it (nothing is left mounted on it then). @note gets a
 * line to print on success (empty if none).
 */
int bind_second_mount(const char *store, const char *mountpoint,
		      unsigned long flags, char *err, size_t errlen,
		      char *note, size_t notelen);

/*
 * `mount -o remount,ro|rw MOUNTPOINT` (mount.fuse3 runs `cowfs STORE
 * MOUNTPOINT -o remount,...`): makes the filesystem of STORE mounted at
 * @mountpoint read-only or read-write again, every mount point of it (the
 * superblock's flag; each mount point keeps its other flags), after
 * committing when it goes read-only. Read-write is refused when the
 * daemon opened the store read-only. 0, or -errno with a one-line reason
 * in @err.
 */
int remount_store(const char *store, const char *mountpoint, bool readonly,
		  char *err, size_t errlen);

/*
 * The readahead (KiB) of the block device holding @path, 0 if unknown
 * (not on a block device, no sysfs).
 */
unsigned host_readahead_kb(const char *path);

/*
 * The kernel's backing device info of the cowfs mount of @store on @point
 * (a real path; the newest mount there): its name under /sys/class/bdi
 * ("MAJ:MIN") into @dev. Reads /proc/self/mountinfo and touches nothing in
 * the mount, so it may run before the daemon answers the kernel's INIT.
 * Returns 0 or -errno.
 */
int mount_bdi(const char *store, const char *point, char *dev, size_t len);

/*
 * Sets /sys/class/bdi/@dev/@attr to @value: read_ahead_kb (the kernel
 * starts a FUSE mount at 128 KiB and lowers it to what the daemon asks at
 * init, never raises it), max_ratio (a FUSE mount may hold 1% of the
 * kernel's dirty page limit). Only root may. Returns 0 or -errno.
 */
int bdi_set(const char *dev, const char *attr, unsigned value);

#endif
