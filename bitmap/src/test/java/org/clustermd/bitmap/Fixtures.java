package org.clustermd.bitmap;

import java.util.UUID;
import org.clustermd.bitmap.storage.BitmapStorage;
import org.clustermd.bitmap.testing.ManualClock;

/** Small shared set-ups for the bitmap tests. */
final class Fixtures {
    static final UUID ARRAY = UUID.fromString("a1b2c3d4-0000-1111-2222-333344445555");
    /** 8 sectors (4 KiB) per chunk. */
    static final long CHUNK = 4096;

    static final long CHUNK_SECTORS = CHUNK / 512;

    private Fixtures() {}

    /** 4 nodes, 2048 chunks of 4 KiB (one 4 KiB page per slot), all slots clean. */
    static BitmapSuperblock fourNodes() {
        return BitmapSuperblock.clustered(ARRAY, 2048 * CHUNK_SECTORS, CHUNK, 4, "testcluster");
    }

    static BitmapArea cleanArea(BitmapStorage s) throws BitmapException {
        return BitmapArea.create(s, fourNodes(), true);
    }

    static BitmapOptions manual(ManualClock clock) {
        return BitmapOptions.builder()
                .name("test")
                .clock(clock)
                .startDaemon(false)
                .build();
    }

    /** The first sector of chunk {@code c}. */
    static long sector(long c) {
        return c * CHUNK_SECTORS;
    }

    /** Advances the clock in small steps, running the daemon at each, until {@code millis} passed. */
    static void runDaemonFor(WriteIntentBitmap b, ManualClock clock, long millis) throws BitmapException {
        for (long t = 0; t < millis; t += 250) {
            clock.advanceMillis(250);
            b.daemonWork();
        }
    }
}
