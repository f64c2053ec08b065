package org.clustermd.raid1.sb;

import java.io.IOException;
import java.nio.ByteBuffer;
import org.clustermd.bitmap.storage.BitmapStorage;
import org.clustermd.raid1.io.BlockDevice;

/**
 * The bitmap area of one leg as a {@link BitmapStorage}: {@code size} bytes from
 * {@code areaOffset} (super_offset + bitmap_offset, byte 8192 for v1.2) of a single
 * {@link BlockDevice}. Used where one leg is handled alone: create writes the area to each leg,
 * examine reads it from one. The running array uses its own storage over all legs.
 *
 * <p>Thread-safe (the device is).
 */
public final class DeviceBitmapStorage implements BitmapStorage {
    private final BlockDevice device;
    private final long areaOffset;
    private final long areaSize;

    /**
     * @param areaOffset a multiple of 4096
     * @param areaSize a multiple of 4096, ending inside the device
     */
    public DeviceBitmapStorage(BlockDevice device, long areaOffset, long areaSize) {
        if (areaOffset < 0
                || areaOffset % BLOCK_SIZE != 0
                || areaSize <= 0
                || areaSize % BLOCK_SIZE != 0
                || areaOffset + areaSize > device.size()) {
            throw new IllegalArgumentException(device.name() + ": bitmap area [" + areaOffset + ", +" + areaSize
                    + ") is not 4 KiB-aligned inside the device");
        }
        this.device = device;
        this.areaOffset = areaOffset;
        this.areaSize = areaSize;
    }

    /** The area of a leg whose superblock is {@code sb}: from the bitmap to data_offset. */
    public static DeviceBitmapStorage of(BlockDevice device, Superblock sb) {
        long start = (sb.superOffset() + sb.bitmapOffset()) * BlockDevice.SECTOR_SIZE;
        long end = sb.dataOffset() * BlockDevice.SECTOR_SIZE;
        return new DeviceBitmapStorage(device, start, (end - start) / BLOCK_SIZE * BLOCK_SIZE);
    }

    @Override
    public String name() {
        return device.name();
    }

    @Override
    public long size() {
        return areaSize;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        check(offset, dst.remaining());
        device.read(areaOffset + offset, dst);
    }

    @Override
    public void write(long offset, ByteBuffer src) throws IOException {
        check(offset, src.remaining());
        device.write(areaOffset + offset, src);
    }

    @Override
    public void flush() throws IOException {
        device.flush();
    }

    /** Does not close the device: it belongs to the caller. */
    @Override
    public void close() {}

    private void check(long offset, int length) {
        BitmapStorage.checkRange(name(), offset, length, areaSize);
    }
}
