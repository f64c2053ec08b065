package org.clustermd.cluster.cli;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The acknowledged writes of one writer, one text line each, made durable in
 * batches (group commit: drain, one write, one fsync):
 *
 * <pre>
 *   # clustermd ack log: writer W
 *   OFFSET BLOCKS WRITE_ID          (byte offset in the array, 4 KiB blocks, the stamp's write id)
 * </pre>
 *
 * A line is appended once the write was acknowledged and before the writer learns of it, so
 * every line names an acknowledged write: the demo's NBD clients log on the client side, once
 * the export promised the write durable ({@link DurableAcks}); the {@code node} verb's hidden
 * workload logs on the node when its array acknowledged it, so a node killed with SIGKILL may
 * lose the last lines there (never more than what was acknowledged and not yet logged). A torn
 * last line (no newline) is ignored when read.
 *
 * <p>Thread-safe: {@link #append} from any thread; one {@code ack-log} thread writes.
 */
final class AckLog implements AutoCloseable {
    private static final String HEADER = "# clustermd ack log: writer ";

    /** One acknowledged write. */
    record Entry(long offset, int blocks, long writeId) {}

    /** A log as read back. */
    record Contents(long writer, List<Entry> entries) {}

    private final FileChannel channel;
    private final LinkedBlockingQueue<String> queue = new LinkedBlockingQueue<>();
    private final Thread thread;
    private volatile boolean closing;
    private volatile IOException failure;

    private AckLog(FileChannel channel) {
        this.channel = channel;
        this.thread = new Thread(this::loop, "ack-log");
        this.thread.setDaemon(true);
    }

    /** Creates (or truncates) the log at {@code path} for writer {@code writer}. */
    static AckLog create(Path path, long writer) throws IOException {
        FileChannel ch = FileChannel.open(
                path, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
        ch.write(ByteBuffer.wrap((HEADER + writer + "\n").getBytes(StandardCharsets.US_ASCII)));
        ch.force(true);
        AckLog log = new AckLog(ch);
        log.thread.start();
        return log;
    }

    /** Records an acknowledged write (queued; durable at the next batch). */
    void append(long offset, int blocks, long writeId) {
        queue.add(offset + " " + blocks + " " + writeId + "\n");
    }

    private void loop() {
        List<String> batch = new ArrayList<>();
        StringBuilder b = new StringBuilder();
        try {
            while (!closing || !queue.isEmpty()) {
                String first = queue.poll(50, TimeUnit.MILLISECONDS);
                if (first == null) continue;
                batch.add(first);
                queue.drainTo(batch);
                b.setLength(0);
                for (String s : batch) b.append(s);
                batch.clear();
                ByteBuffer buf = ByteBuffer.wrap(b.toString().getBytes(StandardCharsets.US_ASCII));
                while (buf.hasRemaining()) channel.write(buf);
                channel.force(false);
            }
        } catch (IOException e) {
            failure = e;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Writes what is queued, fsyncs and closes. */
    @Override
    public void close() throws IOException {
        closing = true;
        try {
            thread.join(TimeUnit.SECONDS.toMillis(30));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        channel.force(true);
        channel.close();
        if (failure != null) throw failure;
    }

    /** Reads a log; a torn last line is ignored, anything else malformed is an error naming the line. */
    static Contents read(Path path) throws IOException {
        String text = Files.readString(path, StandardCharsets.US_ASCII);
        int end = text.lastIndexOf('\n');
        String[] lines = end < 0 ? new String[0] : text.substring(0, end).split("\n");
        if (lines.length == 0 || !lines[0].startsWith(HEADER))
            throw new IOException(path + ": not an ack log (no header)");
        long writer;
        try {
            writer = Long.parseLong(lines[0].substring(HEADER.length()).trim());
        } catch (NumberFormatException e) {
            throw new IOException(path + ": bad writer in the header: " + lines[0]);
        }
        List<Entry> entries = new ArrayList<>(lines.length);
        for (int i = 1; i < lines.length; i++) {
            String[] f = lines[i].split(" ");
            try {
                if (f.length != 3) throw new NumberFormatException("3 fields expected");
                entries.add(new Entry(Long.parseLong(f[0]), Integer.parseInt(f[1]), Long.parseLong(f[2])));
            } catch (NumberFormatException e) {
                throw new IOException(path + ": line " + (i + 1) + " is malformed: '" + lines[i] + "'");
            }
        }
        return new Contents(writer, entries);
    }
}
