package org.clustermd.cluster.nbd;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Test fake for the protocol tests of {@link NbdServer}: an in-memory device that records
 * every call and can hold completions until the test releases them.
 */
final class RecordingTarget implements NbdTarget {
    final byte[] data;
    final int blockSize;
    final List<String> calls = new CopyOnWriteArrayList<>();
    final AtomicBoolean hold = new AtomicBoolean();
    private final List<Runnable> held = new CopyOnWriteArrayList<>();

    RecordingTarget(int size, int blockSize) {
        this.data = new byte[size];
        this.blockSize = blockSize;
    }

    @Override
    public String name() {
        return "md0";
    }

    @Override
    public long size() {
        return data.length;
    }

    @Override
    public int logicalBlockSize() {
        return blockSize;
    }

    @Override
    public CompletableFuture<Void> read(long offset, ByteBuffer dst) {
        calls.add("read " + offset + " " + dst.remaining());
        return complete(() -> dst.put(dst.position(), data, (int) offset, dst.remaining()), "read " + offset + " done");
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuffer src, boolean fua) {
        calls.add("write " + offset + " " + src.remaining() + (fua ? " fua" : ""));
        return complete(
                () -> src.get(src.position(), data, (int) offset, src.remaining()), "write " + offset + " done");
    }

    @Override
    public CompletableFuture<Void> flush() {
        calls.add("flush");
        return complete(() -> {}, "flush done");
    }

    @Override
    public CompletableFuture<Void> trim(long offset, long length) {
        calls.add("trim " + offset + " " + length);
        return CompletableFuture.completedFuture(null);
    }

    private CompletableFuture<Void> complete(Runnable op, String done) {
        CompletableFuture<Void> f = new CompletableFuture<>();
        Runnable r = () -> {
            op.run();
            calls.add(done);
            f.complete(null);
        };
        if (hold.get()) held.add(r);
        else r.run();
        return f;
    }

    /** Completes the held calls, oldest first, {@code n} of them (all when n is larger). */
    void release(int n) {
        for (int i = 0; i < n && !held.isEmpty(); i++) held.remove(0).run();
    }

    int heldCount() {
        return held.size();
    }
}
