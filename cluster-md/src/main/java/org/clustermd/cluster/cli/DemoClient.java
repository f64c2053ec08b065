package org.clustermd.cluster.cli;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import org.clustermd.cluster.nbd.NbdClient;

/**
 * The client side of one demo node: an {@link NbdClient} connected to the node's NBD export over
 * 127.0.0.1, the {@link DurableAcks} that log its durable writes to its {@link AckLog} (in the
 * demo's process, so a node killed with SIGKILL loses no line of it), and the
 * {@link DemoWorkload} that writes the node's share of the blocks.
 *
 * <p>Thread-safe as its parts are; the demo's thread starts, stops and closes it.
 */
final class DemoClient implements AutoCloseable {
    final Path ackLog;
    final long writer;
    final DemoLayout.Assignment blocks;
    private final NbdClient nbd;
    private final DurableAcks acks;
    private final DemoWorkload workload;

    private DemoClient(Path ackLog, long writer, DemoLayout.Assignment blocks, NbdClient nbd, DurableAcks acks) {
        this.ackLog = ackLog;
        this.writer = writer;
        this.blocks = blocks;
        this.nbd = nbd;
        this.acks = acks;
        this.workload = new DemoWorkload(acks, blocks, writer);
    }

    /** Connects to the export {@code export} on 127.0.0.1:{@code port} and creates the ack log; writes nothing yet. */
    static DemoClient connect(int port, String export, Path ackLog, long writer, DemoLayout.Assignment blocks)
            throws IOException {
        NbdClient nbd = NbdClient.connect(new InetSocketAddress("127.0.0.1", port), export, Duration.ofSeconds(20));
        try {
            return new DemoClient(ackLog, writer, blocks, nbd, new DurableAcks(nbd, AckLog.create(ackLog, writer)));
        } catch (IOException | RuntimeException e) {
            nbd.close();
            throw e;
        }
    }

    /** The export's size as the server announced it. */
    long exportSize() {
        return nbd.size();
    }

    /** The NBD connection, for reading back. */
    NbdClient nbd() {
        return nbd;
    }

    void start() {
        workload.start();
    }

    /** Whether a write or flush failed (the node is gone, or refused). */
    boolean failed() {
        return workload.failed();
    }

    /** Stops writing; a last FLUSH makes what was replied to durable unless the connection already failed. */
    DemoWorkload.Result stop() throws InterruptedException {
        return workload.stop();
    }

    /** Writes logged as durable. */
    long logged() {
        return acks.logged();
    }

    /** Closes the ack log (durable), then the NBD connection (NBD_CMD_DISC). */
    @Override
    public void close() throws IOException {
        try {
            acks.close();
        } finally {
            nbd.close();
        }
    }
}
