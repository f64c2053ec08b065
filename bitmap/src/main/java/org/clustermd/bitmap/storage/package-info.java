/**
 * How the bitmap reaches disk: the {@link org.clustermd.bitmap.storage.BitmapStorage} SPI
 * (implemented by raid1-engine over its legs), a file implementation for tests and tools, and
 * the {@link org.clustermd.bitmap.storage.SuperblockCodec} for md's {@code bitmap_super_t}.
 *
 * <p>Buffers are JDK direct {@link java.nio.ByteBuffer}s aligned to 4 KiB; see the module
 * documentation in {@link org.clustermd.bitmap} for why chronicle-bytes is not used.
 */
package org.clustermd.bitmap.storage;
