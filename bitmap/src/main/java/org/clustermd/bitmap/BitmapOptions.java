package org.clustermd.bitmap;

import java.util.Objects;
import java.util.function.Consumer;

/**
 * How to open a {@link WriteIntentBitmap}: its name (for the {@code bitmap-flush-<name>}
 * thread and messages), its clock, whether it runs its own daemon thread, and md's
 * {@code recovery_cp} for loading.
 *
 * <p>Immutable and thread-safe; build with {@link #builder()}.
 */
public final class BitmapOptions {
    private final String name;
    private final BitmapClock clock;
    private final boolean startDaemon;
    private final long recoveryCp;
    private final Consumer<Throwable> daemonFailureListener;
    private final int lookAheadChunks;
    private final boolean anySyncSize;

    private BitmapOptions(Builder b) {
        this.name = b.name;
        this.clock = b.clock;
        this.startDaemon = b.startDaemon;
        this.recoveryCp = b.recoveryCp;
        this.daemonFailureListener = b.daemonFailureListener;
        this.lookAheadChunks = b.lookAheadChunks;
        this.anySyncSize = b.anySyncSize;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Name {@code "md"}, the system clock, a daemon thread, every loaded bit NEEDED. */
    public static BitmapOptions defaults() {
        return builder().build();
    }

    /** The array name: the daemon thread is {@code bitmap-flush-<name>}. */
    public String name() {
        return name;
    }

    public BitmapClock clock() {
        return clock;
    }

    /**
     * Whether the bitmap runs its own daemon thread for lazy clearing. Without it the owner
     * calls {@link WriteIntentBitmap#daemonWork()} (tests with a manual clock do).
     */
    public boolean startDaemon() {
        return startDaemon;
    }

    /**
     * md's {@code recovery_cp} at load: a bit found set on disk marks its chunk NEEDED if the
     * chunk ends at or after this sector ({@code md_bitmap_init_from_disk}). 0, the default,
     * makes every loaded bit NEEDED; {@link Long#MAX_VALUE} (md's MaxSector, a clean array)
     * loads them as dirty but not needing a resync, so they simply decay.
     */
    public long recoveryCp() {
        return recoveryCp;
    }

    /**
     * Told about every failure of the daemon thread: a {@link BitmapException} when a pass
     * could not write (bits stay set, the next pass retries), anything else when the thread
     * dies (bits then stop being cleared; the owner should treat the array as failing). Runs on
     * the daemon thread; the default does nothing beyond the log line the daemon writes.
     */
    public Consumer<Throwable> daemonFailureListener() {
        return daemonFailureListener;
    }

    /**
     * How many chunks a sequential stream may have set ahead of its writer, at most (and at most
     * as many as it has written): what a crash may cost in extra chunks resynced per stream, for
     * one flushed round per half of it instead of one per chunk (docs/design.md §4). 0 sets
     * nothing ahead, md's behaviour and the default here; the array sets its own
     * ({@code ArrayOptions.bitmapLookAhead}).
     */
    public int lookAheadChunks() {
        return lookAheadChunks;
    }

    /**
     * Whether a slot of a clustered area opens at a {@code sync_size} other than slot 0's (the
     * same array at the same stride all the same): what a grow leaves whose nodes died before
     * every slot was resized, which the owner puts right before it serves a request. False, the
     * default, refuses it.
     */
    public boolean anySyncSize() {
        return anySyncSize;
    }

    /** Builder for {@link BitmapOptions}. Not thread-safe. */
    public static final class Builder {
        private String name = "md";
        private BitmapClock clock = BitmapClock.SYSTEM;
        private boolean startDaemon = true;
        private long recoveryCp = 0;
        private Consumer<Throwable> daemonFailureListener = e -> {};
        private int lookAheadChunks = 0;
        private boolean anySyncSize;

        private Builder() {}

        public Builder name(String value) {
            this.name = Objects.requireNonNull(value, "name");
            return this;
        }

        public Builder clock(BitmapClock value) {
            this.clock = Objects.requireNonNull(value, "clock");
            return this;
        }

        public Builder startDaemon(boolean value) {
            this.startDaemon = value;
            return this;
        }

        public Builder recoveryCp(long sector) {
            if (sector < 0) throw new IllegalArgumentException("negative recovery_cp " + sector);
            this.recoveryCp = sector;
            return this;
        }

        public Builder daemonFailureListener(Consumer<Throwable> value) {
            this.daemonFailureListener = Objects.requireNonNull(value, "daemonFailureListener");
            return this;
        }

        public Builder lookAheadChunks(int chunks) {
            if (chunks < 0) throw new IllegalArgumentException("negative look-ahead " + chunks);
            this.lookAheadChunks = chunks;
            return this;
        }

        public Builder anySyncSize(boolean allowed) {
            this.anySyncSize = allowed;
            return this;
        }

        public BitmapOptions build() {
            return new BitmapOptions(this);
        }
    }
}
