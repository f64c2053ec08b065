package org.clustermd.raid1.admin;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Objects;
import java.util.UUID;

/**
 * What {@link ArrayCreator} writes: mdadm's {@code --create} options for a clustered raid1.
 *
 * <p>Immutable; thread-safe. Build with {@link #builder(String)}.
 */
public final class CreateOptions {
    /** mdadm's default {@code --nodes} for a clustered bitmap. */
    public static final int DEFAULT_NODES = 4;
    /** The bitmap chunk mdadm never goes below when it chooses one for a clustered array: 64 MiB. */
    public static final long DEFAULT_BITMAP_CHUNK = 64L << 20;
    /** The largest bitmap chunk accepted (bitmap_super_t.chunksize is a u32; 1 GiB leaves it clear of the sign bit). */
    public static final long MAX_BITMAP_CHUNK = 1L << 30;

    private final String name;
    private final String clusterName;
    private final int nodes;
    private final int raidDevices;
    private final int spareDevices;
    private final boolean assumeClean;
    private final long bitmapChunk;
    private final long sizeSectors;
    private final BitmapMode bitmap;
    private final UUID uuid;
    private final Instant ctime;

    private CreateOptions(Builder b) {
        this.name = b.name;
        this.clusterName = b.clusterName;
        this.nodes = b.nodes;
        this.raidDevices = b.raidDevices;
        this.spareDevices = b.spareDevices;
        this.assumeClean = b.assumeClean;
        this.bitmapChunk = b.bitmapChunk;
        this.sizeSectors = b.sizeSectors;
        this.bitmap = b.bitmap;
        this.uuid = b.uuid;
        this.ctime = b.ctime;
    }

    /** Options for an array named {@code name} (set_name, at most 32 bytes). */
    public static Builder builder(String name) {
        return new Builder(name);
    }

    /** set_name. */
    public String name() {
        return name;
    }

    /** The bitmap's cluster_name (mdadm's {@code --home-cluster}). */
    public String clusterName() {
        return clusterName;
    }

    /** Bitmap slots ({@code --nodes}); 1 unless the bitmap is clustered. */
    public int nodes() {
        return bitmap == BitmapMode.CLUSTERED ? nodes : 1;
    }

    /** raid_disks, or 0 for "every leg not a spare". */
    public int raidDevices() {
        return raidDevices;
    }

    public int spareDevices() {
        return spareDevices;
    }

    /** {@code --assume-clean}: no initial resync. */
    public boolean assumeClean() {
        return assumeClean;
    }

    /** Bytes per bitmap bit. */
    public long bitmapChunk() {
        return bitmapChunk;
    }

    /** Array size in sectors ({@code --size}), or 0 for the largest the legs allow. */
    public long sizeSectors() {
        return sizeSectors;
    }

    public BitmapMode bitmap() {
        return bitmap;
    }

    /** set_uuid, or null for a random one. */
    public UUID uuid() {
        return uuid;
    }

    /** ctime, or null for now. */
    public Instant ctime() {
        return ctime;
    }

    /** Builder; not thread-safe. */
    public static final class Builder {
        private final String name;
        private String clusterName = "clustermd";
        private int nodes = DEFAULT_NODES;
        private int raidDevices;
        private int spareDevices;
        private boolean assumeClean;
        private long bitmapChunk = DEFAULT_BITMAP_CHUNK;
        private long sizeSectors;
        private BitmapMode bitmap = BitmapMode.CLUSTERED;
        private UUID uuid;
        private Instant ctime;

        private Builder(String name) {
            Objects.requireNonNull(name, "name");
            if (name.isEmpty() || name.getBytes(StandardCharsets.UTF_8).length > 32) {
                throw new IllegalArgumentException("array name must be 1..32 bytes: '" + name + "'");
            }
            this.name = name;
        }

        public Builder clusterName(String v) {
            Objects.requireNonNull(v, "clusterName");
            if (v.isEmpty()) throw new IllegalArgumentException("cluster name must not be empty");
            if (v.getBytes(StandardCharsets.UTF_8).length > 63) {
                throw new IllegalArgumentException("cluster name must be at most 63 bytes: '" + v + "'");
            }
            this.clusterName = v;
            return this;
        }

        public Builder nodes(int v) {
            if (v < 1 || v > 64) throw new IllegalArgumentException("--nodes must be 1..64: " + v);
            this.nodes = v;
            return this;
        }

        public Builder raidDevices(int v) {
            if (v < 1) throw new IllegalArgumentException("--raid-devices must be >= 1: " + v);
            this.raidDevices = v;
            return this;
        }

        public Builder spareDevices(int v) {
            if (v < 0) throw new IllegalArgumentException("--spare-devices must be >= 0: " + v);
            this.spareDevices = v;
            return this;
        }

        public Builder assumeClean(boolean v) {
            this.assumeClean = v;
            return this;
        }

        /** Bytes per bitmap bit: a power of two, at least 4 KiB. */
        public Builder bitmapChunk(long bytes) {
            if (bytes < 4096 || Long.bitCount(bytes) != 1) {
                throw new IllegalArgumentException("--bitmap-chunk must be a power of two >= 4096 bytes: " + bytes);
            }
            if (bytes > MAX_BITMAP_CHUNK) {
                throw new IllegalArgumentException("--bitmap-chunk " + bytes
                        + " is larger than md's 32-bit chunksize field " + "allows (at most 1G)");
            }
            this.bitmapChunk = bytes;
            return this;
        }

        /** Array size in bytes, a multiple of 4 KiB (0: as large as the legs allow). */
        public Builder sizeBytes(long bytes) {
            if (bytes < 0 || bytes % 4096 != 0)
                throw new IllegalArgumentException("--size must be a multiple of 4 KiB: " + bytes);
            this.sizeSectors = bytes / 512;
            return this;
        }

        public Builder bitmap(BitmapMode v) {
            this.bitmap = Objects.requireNonNull(v, "bitmap");
            return this;
        }

        public Builder uuid(UUID v) {
            this.uuid = v;
            return this;
        }

        public Builder ctime(Instant v) {
            this.ctime = v;
            return this;
        }

        public CreateOptions build() {
            return new CreateOptions(this);
        }
    }
}
