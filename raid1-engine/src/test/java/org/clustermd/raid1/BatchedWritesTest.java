package org.clustermd.raid1;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.clustermd.raid1.admin.CreateOptions;
import org.clustermd.raid1.io.AlignedBuffers;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.BlockDeviceOptions;
import org.clustermd.raid1.io.BlockDevices;
import org.clustermd.raid1.io.IoEngine;
import org.clustermd.raid1.io.IoPlug;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mirrored writes issued inside an {@link IoPlug#batch}: held until the batch closes, then all
 * on every leg; and a blocking write inside the batch first submits what the batch holds, so a
 * thread never waits with its own writes held back (docs/lessons.md §52). A regression hangs
 * rather than fails, so the tests carry a timeout that abandons the stuck thread.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class BatchedWritesTest {
    private static final long WAIT_SECONDS = Timing.seconds(60).toSeconds();

    @TempDir
    Path dir;

    private TestLegs legs;

    @AfterEach
    void tearDown() {
        if (legs != null) legs.close();
    }

    private Raid1Array array() throws Exception {
        legs = new TestLegs(dir, 2, 48L << 20)
                .create(CreateOptions.builder("md-batch")
                        .assumeClean(true)
                        .bitmapChunk(1 << 20)
                        .build());
        List<BlockDevice> devices = new ArrayList<>();
        for (Path p : legs.paths)
            devices.add(BlockDevices.open(p, BlockDeviceOptions.defaults().withEngine(IoEngine.AIO)));
        Raid1Array a = legs.track(Raid1Array.assemble(devices, ArrayOptions.defaults()));
        // active, and the first chunk's bit set: the writes below take the non-blocking path
        a.write(0, block(1));
        return a;
    }

    private static ByteBuffer block(int stamp) {
        ByteBuffer b = AlignedBuffers.allocate(4096);
        for (int i = 0; i < 4096; i += 4) b.putInt(i, stamp);
        return b;
    }

    private void assertEveryLegHolds(long offset, int stamp) throws Exception {
        for (int leg = 0; leg < 2; leg++) {
            try (BlockDevice d = legs.openLeg(leg)) {
                ByteBuffer r = AlignedBuffers.allocate(4096);
                d.read(legs.created.dataOffset() * BlockDevice.SECTOR_SIZE + offset, r);
                assertThat(r.getInt(0)).as("leg %d at %d", leg, offset).isEqualTo(stamp);
                assertThat(r.getInt(4092)).as("leg %d at %d", leg, offset).isEqualTo(stamp);
            }
        }
    }

    @Test
    void writesInABatchAreHeldUntilItClosesThenLandOnEveryLeg() throws Exception {
        Raid1Array a = array();
        List<CompletableFuture<Void>> fs = new ArrayList<>();
        try (IoPlug.Batch batch = IoPlug.batch()) {
            for (int i = 1; i <= 8; i++) {
                CompletableFuture<Void> f = a.tryWriteAsync(i * 4096L, block(100 + i), false);
                assertThat(f).as("write %d takes the non-blocking path", i).isNotNull();
                fs.add(f);
            }
            for (CompletableFuture<Void> f : fs) assertThat(f).isNotDone();
        }
        for (CompletableFuture<Void> f : fs) f.get(WAIT_SECONDS, TimeUnit.SECONDS);
        a.close();
        for (int i = 1; i <= 8; i++) assertEveryLegHolds(i * 4096L, 100 + i);
    }

    @Test
    void aBlockingWriteInsideABatchFirstSubmitsWhatTheBatchHolds() throws Exception {
        Raid1Array a = array();
        try (IoPlug.Batch batch = IoPlug.batch()) {
            CompletableFuture<Void> held = a.tryWriteAsync(4096, block(7), false);
            assertThat(held).isNotNull();
            assertThat(held).isNotDone();
            a.write(8192, block(8)); // may wait: it must not leave `held` behind
            held.get(WAIT_SECONDS, TimeUnit.SECONDS); // inside the batch: completes only if submitted
        }
        a.close();
        assertEveryLegHolds(4096, 7);
        assertEveryLegHolds(8192, 8);
    }
}
