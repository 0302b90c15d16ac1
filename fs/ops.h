/*
 * ops.h - the FUSE operation table of the cowfs daemon (fs/ops.c).
 */
#ifndef COWFS_OPS_H
#define COWFS_OPS_H

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 314
#endif
#include <fuse_lowlevel.h>

extern const struct fuse_lowlevel_ops cowfs_ops;

#endif
