package org.clustermd.raid1;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

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
import org.clustermd.raid1.io.EngineThread;
import org.clustermd.raid1.io.IoEngine;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link Raid1Array#tryWriteAsync}, the write the NBD export issues from its event loop: it
 * issues only when no step has to wait, and when it declines it leaves nothing counted or
 * written, so the blocking path that follows starts from a clean slate.
 */
class TryWriteTest {
    private static final long CHUNK = 1 << 20;

    @TempDir
    Path dir;

    private TestLegs legs;

    @AfterEach
    void tearDown() {
        if (legs != null) legs.close();
    }

    private Raid1Array array() throws Exception {
        assumeTrue(BlockDevices.aioAvailable(), "libaio is not available here");
        legs = new TestLegs(dir, 2, 48L << 20)
                .create(CreateOptions.builder("md-try")
                        .assumeClean(true)
                        .bitmapChunk(CHUNK)
                        .build());
        List<BlockDevice> devices = new ArrayList<>();
        for (Path p : legs.paths)
            devices.add(BlockDevices.open(p, BlockDeviceOptions.defaults().withEngine(IoEngine.AIO)));
        return legs.track(Raid1Array.assemble(devices, ArrayOptions.builder().build()));
    }

    private static ByteBuffer block(int stamp) {
        ByteBuffer b = AlignedBuffers.allocate(4096);
        for (int i = 0; i < 4096; i += 4) b.putInt(i, stamp);
        return b;
    }

    private static int stampAt(Raid1Array a, long offset) throws Exception {
        ByteBuffer got = AlignedBuffers.allocate(4096);
        a.read(offset, got);
        return got.getInt(0);
    }

    @Test
    void declinesWhatWouldWaitAndLeavesNothingCounted() throws Exception {
        Raid1Array a = array();
        // a clean array must first record that it is active: a superblock write to wait for
        assertThat(a.tryWriteAsync(0, block(1), false))
                .as("first write to a clean array")
                .isNull();
        assertThat(a.stats().inFlight()).isZero();
        assertThat(stampAt(a, 0)).isZero();

        a.write(0, block(2)); // now active, and chunk 0's bit is durable
        long bits = a.bitmap().orElseThrow().stats().bitsSet();
        // chunk 5's bit is not set yet: setting it means a flush to wait for
        assertThat(a.tryWriteAsync(5 * CHUNK, block(3), false))
                .as("write needing a new bit")
                .isNull();
        assertThat(a.bitmap().orElseThrow().stats().bitsSet()).isEqualTo(bits);
        assertThat(a.stats().inFlight()).isZero();
        assertThat(stampAt(a, 5 * CHUNK)).isZero();
    }

    @Test
    void issuesWhenNothingHasToWait() throws Exception {
        Raid1Array a = array();
        a.write(0, block(1));
        CompletableFuture<Void> f = a.tryWriteAsync(4096, block(4), true);
        assertThat(f).as("write to an active array on a chunk whose bit is set").isNotNull();
        f.get(30, TimeUnit.SECONDS);
        assertThat(stampAt(a, 4096)).isEqualTo(4);
        assertThat(a.stats().inFlight()).isZero();
    }

    @Test
    void declinesOnEngineThreads() throws Exception {
        Raid1Array a = array();
        a.write(0, block(1));
        CompletableFuture<Object> got = new CompletableFuture<>();
        new EngineThread(() -> got.complete(a.tryWriteAsync(4096, block(5), false)), "test-engine").start();
        assertThat(got.get(30, TimeUnit.SECONDS)).isNull();
    }
}
