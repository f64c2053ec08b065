package org.clustermd.raid1;

import java.time.Duration;
import java.util.Objects;
import org.clustermd.bitmap.BitmapClock;
import org.clustermd.raid1.resync.SyncThrottle;

/**
 * How {@link Raid1Array#assemble} runs an array.
 *
 * <p>Immutable and thread-safe; build with {@link #builder()}.
 */
public final class ArrayOptions {
    /** md's default safemode_delay: 200 ms. */
    public static final Duration DEFAULT_SAFEMODE_DELAY = Duration.ofMillis(200);
    /** The bound of every wait the data path and the administrative calls make. */
    public static final Duration DEFAULT_IO_WAIT = Duration.ofSeconds(30);
    /** Resync requests in flight at once (fio's peer copies with iodepth 8). */
    public static final int DEFAULT_SYNC_DEPTH = 8;
    /** Sectors per resync request: 1 MiB, one barrier unit. */
    public static final int DEFAULT_SYNC_BLOCK_SECTORS = 2048;
    /**
     * Foreground requests that complete between two resync requests while foreground I/O is
     * active: about one foreground request in 512 then waits behind a resync request, which
     * keeps the resync out of the foreground's p99 (figure P12).
     */
    public static final int DEFAULT_SYNC_YIELD_REQUESTS = 512;
    /**
     * Bitmap chunks a sequential stream may set ahead (8: a flushed round every 4 chunks of a
     * long stream; at most 8 extra chunks resynced per stream after a crash).
     */
    public static final int DEFAULT_BITMAP_LOOK_AHEAD = 8;
    /** Time between superblock checkpoints of a running sync. */
    public static final Duration DEFAULT_CHECKPOINT_INTERVAL = Duration.ofSeconds(5);

    private final String name;
    private final ClusterOperations cluster;
    private final Duration ioWait;
    private final Duration safemodeDelay;
    private final long syncSpeedMin;
    private final long syncSpeedMax;
    private final int syncDepth;
    private final int syncBlockSectors;
    private final int syncYieldRequests;
    private final Duration checkpointInterval;
    private final long checkpointSectors;
    private final boolean startFrozen;
    private final boolean readOnly;
    private final BitmapClock bitmapClock;
    private final boolean bitmapDaemon;
    private final int bitmapLookAhead;

    private ArrayOptions(Builder b) {
        this.name = b.name;
        this.cluster = b.cluster;
        this.ioWait = b.ioWait;
        this.safemodeDelay = b.safemodeDelay;
        this.syncSpeedMin = b.syncSpeedMin;
        this.syncSpeedMax = b.syncSpeedMax;
        this.syncDepth = b.syncDepth;
        this.syncBlockSectors = b.syncBlockSectors;
        this.syncYieldRequests = b.syncYieldRequests;
        this.checkpointInterval = b.checkpointInterval;
        this.checkpointSectors = b.checkpointSectors;
        this.startFrozen = b.startFrozen;
        this.readOnly = b.readOnly;
        this.bitmapClock = b.bitmapClock;
        this.bitmapDaemon = b.bitmapDaemon;
        this.bitmapLookAhead = b.bitmapLookAhead;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Standalone, md's defaults. */
    public static ArrayOptions defaults() {
        return builder().build();
    }

    /** The array name (threads, messages); null means the superblock's set_name. */
    public String name() {
        return name;
    }

    /**
     * The cluster operations; null means a new {@link StandaloneClusterOperations}. The array
     * joins with it at assembly and leaves at close.
     */
    public ClusterOperations cluster() {
        return cluster;
    }

    /** The bound of every wait: suspended windows, barriers, superblock updates, quiesce. */
    public Duration ioWait() {
        return ioWait;
    }

    /** md's safemode_delay; {@link Duration#ZERO} disables it (always so when clustered). */
    public Duration safemodeDelay() {
        return safemodeDelay;
    }

    /** sync_speed_min, KiB/s. */
    public long syncSpeedMin() {
        return syncSpeedMin;
    }

    /** sync_speed_max, KiB/s. */
    public long syncSpeedMax() {
        return syncSpeedMax;
    }

    /** Resync requests in flight at once. */
    public int syncDepth() {
        return syncDepth;
    }

    /** Sectors per resync request (a power of two, at most one barrier unit). */
    public int syncBlockSectors() {
        return syncBlockSectors;
    }

    /**
     * While foreground I/O is active and the sync runs above sync_speed_min, how many foreground
     * requests complete before the sync issues its next request (0: md's rule alone, wait only
     * for the requests pending).
     */
    public int syncYieldRequests() {
        return syncYieldRequests;
    }

    /** A running sync writes its progress to the superblocks at least this often. */
    public Duration checkpointInterval() {
        return checkpointInterval;
    }

    /**
     * ...and whenever it advanced this many sectors (0, the default: md's rule, whenever half of
     * what was left up to sync_max is done, i.e. never while sync_max is "max").
     */
    public long checkpointSectors() {
        return checkpointSectors;
    }

    /** Assemble with sync_action frozen: no sync starts until an action is written. */
    public boolean startFrozen() {
        return startFrozen;
    }

    /** Assemble read-only (array_state readonly). */
    public boolean readOnly() {
        return readOnly;
    }

    /** The bitmap's clock (tests drive lazy clearing with a manual one). */
    public BitmapClock bitmapClock() {
        return bitmapClock;
    }

    /** Whether the bitmap runs its own {@code bitmap-flush-<array>} daemon thread. */
    public boolean bitmapDaemon() {
        return bitmapDaemon;
    }

    /**
     * Chunks a sequential stream may have its bits set ahead of its writer, at most (and never
     * more than it has written): the extra chunks a crash may cost per stream, for one flushed
     * bitmap round per half of them instead of one per chunk (docs/design.md §4). 0 is md's
     * behaviour. Default {@value #DEFAULT_BITMAP_LOOK_AHEAD}.
     */
    public int bitmapLookAhead() {
        return bitmapLookAhead;
    }

    /** Builder; not thread-safe. */
    public static final class Builder {
        private String name;
        private ClusterOperations cluster;
        private Duration ioWait = DEFAULT_IO_WAIT;
        private Duration safemodeDelay = DEFAULT_SAFEMODE_DELAY;
        private long syncSpeedMin = SyncThrottle.DEFAULT_SPEED_MIN;
        private long syncSpeedMax = SyncThrottle.DEFAULT_SPEED_MAX;
        private int syncDepth = DEFAULT_SYNC_DEPTH;
        private int syncBlockSectors = DEFAULT_SYNC_BLOCK_SECTORS;
        private int syncYieldRequests = DEFAULT_SYNC_YIELD_REQUESTS;
        private Duration checkpointInterval = DEFAULT_CHECKPOINT_INTERVAL;
        private long checkpointSectors;
        private boolean startFrozen;
        private boolean readOnly;
        private BitmapClock bitmapClock = BitmapClock.SYSTEM;
        private boolean bitmapDaemon = true;
        private int bitmapLookAhead = DEFAULT_BITMAP_LOOK_AHEAD;

        private Builder() {}

        public Builder name(String v) {
            this.name = v;
            return this;
        }

        public Builder cluster(ClusterOperations v) {
            this.cluster = v;
            return this;
        }

        public Builder ioWait(Duration v) {
            if (v.isNegative() || v.isZero()) throw new IllegalArgumentException("ioWait must be positive: " + v);
            this.ioWait = v;
            return this;
        }

        public Builder safemodeDelay(Duration v) {
            if (v.isNegative()) throw new IllegalArgumentException("safemodeDelay must be >= 0: " + v);
            this.safemodeDelay = v;
            return this;
        }

        public Builder syncSpeedMin(long kib) {
            if (kib < 0) throw new IllegalArgumentException("sync_speed_min must be >= 0: " + kib);
            this.syncSpeedMin = kib;
            return this;
        }

        public Builder syncSpeedMax(long kib) {
            if (kib < 1) throw new IllegalArgumentException("sync_speed_max must be >= 1: " + kib);
            this.syncSpeedMax = kib;
            return this;
        }

        public Builder syncDepth(int v) {
            if (v < 1 || v > 256) throw new IllegalArgumentException("syncDepth must be 1..256: " + v);
            this.syncDepth = v;
            return this;
        }

        public Builder syncYieldRequests(int v) {
            if (v < 0) throw new IllegalArgumentException("syncYieldRequests must be >= 0: " + v);
            this.syncYieldRequests = v;
            return this;
        }

        public Builder syncBlockSectors(int v) {
            if (v < 8 || Integer.bitCount(v) != 1 || v > DEFAULT_SYNC_BLOCK_SECTORS) {
                throw new IllegalArgumentException("syncBlockSectors must be a power of two in 8..2048: " + v);
            }
            this.syncBlockSectors = v;
            return this;
        }

        public Builder checkpointInterval(Duration v) {
            this.checkpointInterval = Objects.requireNonNull(v);
            return this;
        }

        public Builder checkpointSectors(long v) {
            if (v < 0) throw new IllegalArgumentException("checkpointSectors must be >= 0: " + v);
            this.checkpointSectors = v;
            return this;
        }

        public Builder startFrozen(boolean v) {
            this.startFrozen = v;
            return this;
        }

        public Builder readOnly(boolean v) {
            this.readOnly = v;
            return this;
        }

        public Builder bitmapClock(BitmapClock v) {
            this.bitmapClock = Objects.requireNonNull(v);
            return this;
        }

        public Builder bitmapDaemon(boolean v) {
            this.bitmapDaemon = v;
            return this;
        }

        public Builder bitmapLookAhead(int chunks) {
            if (chunks < 0) throw new IllegalArgumentException("bitmapLookAhead must be >= 0: " + chunks);
            this.bitmapLookAhead = chunks;
            return this;
        }

        public ArrayOptions build() {
            return new ArrayOptions(this);
        }
    }
}
