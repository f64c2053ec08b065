package org.clustermd.cluster.nbd;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.clustermd.raid1.verify.BlockTarget;

/**
 * A small NBD client: one TCP connection to one export, the fixed newstyle handshake with
 * NBD_OPT_GO, then READ, WRITE (with FUA when asked) and FLUSH with simple replies, many
 * requests in flight at once. The demo drives its workload through it, so what it proves is
 * what an NBD client sees; it is a {@link BlockTarget}, so the engine's workload and verifier
 * can use it too.
 *
 * <p>A request's future completes when the server's reply arrives: a WRITE's data is then only
 * as durable as the export promises without FUA (nothing, until a FLUSH sent after that reply
 * completes, or the write carried FUA). A failed request completes exceptionally with an
 * {@link NbdClientException}; once the connection breaks, every request in flight and every
 * later one fails with {@link NbdClientException.Code#DISCONNECTED}.
 *
 * <p>Thread-safe: requests may be sent from any thread (one lock orders them on the wire); one
 * {@code nbd-client} thread reads replies, and futures complete on one {@code nbd-client-done}
 * thread, so a callback may send the next request without stalling the reader.
 */
public final class NbdClient implements BlockTarget, AutoCloseable {
    private static final long OLDSTYLE_MAGIC = 0x00420281861253L;
    /** Option replies longer than this are not from a server we can talk to. */
    private static final int MAX_OPTION_REPLY = 64 << 10;

    private final SocketChannel channel;
    private final String where;
    private final long size;
    private final int transmissionFlags;
    private final int minimumBlockSize;
    private final Map<Long, Request> inFlight = new ConcurrentHashMap<>();
    private final AtomicLong handles = new AtomicLong();
    private final Object sendLock = new Object();
    private final ExecutorService completions;
    private final Thread reader;
    /** Why the connection is unusable, or null while it works. */
    private volatile NbdClientException broken;

    private record Request(int type, long offset, int length, ByteBuffer dst, CompletableFuture<Void> done) {}

    private record Negotiated(long size, int flags, int minimumBlockSize) {}

    private NbdClient(SocketChannel channel, String where, Negotiated n) {
        this.channel = channel;
        this.where = where;
        this.size = n.size();
        this.transmissionFlags = n.flags();
        this.minimumBlockSize = n.minimumBlockSize();
        this.completions = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "nbd-client-done " + where);
            t.setDaemon(true);
            return t;
        });
        this.reader = new Thread(this::readReplies, "nbd-client " + where);
        this.reader.setDaemon(true);
        this.reader.start();
    }

    /**
     * Connects to {@code address}, negotiates {@code export} with NBD_OPT_GO and enters the
     * transmission phase; the connection and the handshake each take at most {@code timeout}.
     */
    public static NbdClient connect(InetSocketAddress address, String export, Duration timeout)
            throws NbdClientException {
        String where = address.getHostString() + ":" + address.getPort() + "/" + export;
        SocketChannel ch;
        try {
            ch = SocketChannel.open();
        } catch (IOException e) {
            throw new NbdClientException(NbdClientException.Code.UNREACHABLE, where + ": " + e.getMessage(), e);
        }
        try {
            int millis = (int) Math.min(Integer.MAX_VALUE, Math.max(1, timeout.toMillis()));
            try {
                ch.socket().connect(address, millis);
            } catch (IOException e) {
                throw new NbdClientException(
                        NbdClientException.Code.UNREACHABLE, "cannot connect to " + where + ": " + e.getMessage(), e);
            }
            ch.socket().setTcpNoDelay(true);
            // the socket adaptor's streams honour SO_TIMEOUT; the handshake uses them, transmission the channel
            ch.socket().setSoTimeout(millis);
            Negotiated n = handshake(
                    new DataInputStream(ch.socket().getInputStream()),
                    new DataOutputStream(ch.socket().getOutputStream()),
                    export,
                    where);
            ch.socket().setSoTimeout(0);
            return new NbdClient(ch, where, n);
        } catch (NbdClientException e) {
            closeQuietly(ch);
            throw e;
        } catch (IOException e) {
            closeQuietly(ch);
            throw new NbdClientException(
                    NbdClientException.Code.REFUSED, where + ": handshake failed: " + describe(e), e);
        }
    }

    private static Negotiated handshake(DataInputStream in, DataOutputStream out, String export, String where)
            throws IOException {
        if (in.readLong() != NbdProtocol.INIT_PASSWD) {
            throw new NbdClientException(
                    NbdClientException.Code.REFUSED, where + " is not an NBD server (no NBDMAGIC)");
        }
        long second = in.readLong();
        if (second == OLDSTYLE_MAGIC) {
            throw new NbdClientException(
                    NbdClientException.Code.REFUSED,
                    where + " speaks the oldstyle protocol, which this client does not");
        }
        if (second != NbdProtocol.OPTS_MAGIC) {
            throw new NbdClientException(NbdClientException.Code.REFUSED, where + " sent no IHAVEOPT");
        }
        int serverFlags = in.readUnsignedShort();
        if ((serverFlags & NbdProtocol.FLAG_FIXED_NEWSTYLE) == 0) {
            throw new NbdClientException(
                    NbdClientException.Code.REFUSED, where + " does not offer the fixed newstyle handshake");
        }
        out.writeInt(NbdProtocol.FLAG_C_FIXED_NEWSTYLE | (serverFlags & NbdProtocol.FLAG_C_NO_ZEROES));
        byte[] name = export.getBytes(StandardCharsets.UTF_8);
        out.writeLong(NbdProtocol.OPTS_MAGIC);
        out.writeInt(NbdProtocol.OPT_GO);
        out.writeInt(4 + name.length + 2 + 2);
        out.writeInt(name.length);
        out.write(name);
        out.writeShort(1);
        out.writeShort(NbdProtocol.INFO_BLOCK_SIZE);
        out.flush();
        long exportSize = -1;
        int flags = 0;
        int minimum = 1;
        while (true) {
            if (in.readLong() != NbdProtocol.OPTION_REPLY_MAGIC)
                throw new NbdClientException(NbdClientException.Code.PROTOCOL, where + ": bad option reply magic");
            int option = in.readInt();
            int type = in.readInt();
            int length = in.readInt();
            if (option != NbdProtocol.OPT_GO || length < 0 || length > MAX_OPTION_REPLY) {
                throw new NbdClientException(
                        NbdClientException.Code.PROTOCOL,
                        where + ": option reply for " + NbdProtocol.optionName(option) + " of " + length + " bytes");
            }
            byte[] data = new byte[length];
            in.readFully(data);
            ByteBuffer d = ByteBuffer.wrap(data);
            if (type == NbdProtocol.REP_ACK) break;
            if (type < 0) {
                // the high bit marks an error reply; its data is a message for humans
                throw new NbdClientException(
                        NbdClientException.Code.REFUSED,
                        where + ": the server refused NBD_OPT_GO (" + optionError(type) + ")"
                                + (length > 0 ? ": " + new String(data, StandardCharsets.UTF_8) : ""));
            }
            if (type != NbdProtocol.REP_INFO || length < 2) continue;
            int info = d.getShort() & 0xffff;
            if (info == NbdProtocol.INFO_EXPORT && length >= 12) {
                exportSize = d.getLong();
                flags = d.getShort() & 0xffff;
            } else if (info == NbdProtocol.INFO_BLOCK_SIZE && length >= 14) {
                minimum = d.getInt();
            }
        }
        if (exportSize < 0) {
            throw new NbdClientException(
                    NbdClientException.Code.PROTOCOL, where + ": NBD_OPT_GO ended without NBD_INFO_EXPORT");
        }
        return new Negotiated(exportSize, flags, minimum);
    }

    private static String optionError(int type) {
        return switch (type) {
            case NbdProtocol.REP_ERR_UNKNOWN -> "no such export";
            case NbdProtocol.REP_ERR_POLICY -> "policy";
            case NbdProtocol.REP_ERR_UNSUP -> "unsupported";
            case NbdProtocol.REP_ERR_INVALID -> "invalid";
            case NbdProtocol.REP_ERR_TOO_BIG -> "too big";
            default -> "error 0x" + Integer.toHexString(type);
        };
    }

    /** The export's size in bytes. */
    @Override
    public long size() {
        return size;
    }

    /** The export's minimum block size (NBD_INFO_BLOCK_SIZE; 1 when the server did not say). */
    public int minimumBlockSize() {
        return minimumBlockSize;
    }

    /** Whether the export takes FUA writes. */
    public boolean acceptsFua() {
        return (transmissionFlags & NbdProtocol.FLAG_SEND_FUA) != 0;
    }

    /** Writes {@code src}'s remaining bytes at {@code offset}; with {@code fua} the reply means durable. */
    @Override
    public CompletableFuture<Void> writeAsync(long offset, ByteBuffer src, boolean fua) {
        if (fua && !acceptsFua()) {
            return CompletableFuture.failedFuture(
                    new NbdClientException(NbdClientException.Code.PROTOCOL, where + " does not accept FUA"));
        }
        return send(NbdProtocol.CMD_WRITE, fua ? NbdProtocol.CMD_FLAG_FUA : 0, offset, src.remaining(), src, null);
    }

    /** Reads {@code dst}'s remaining bytes from {@code offset} into it. */
    @Override
    public CompletableFuture<Void> readAsync(long offset, ByteBuffer dst) {
        return send(NbdProtocol.CMD_READ, 0, offset, dst.remaining(), null, dst);
    }

    /** Makes every write whose reply arrived before this call durable. */
    @Override
    public CompletableFuture<Void> flushAsync() {
        return send(NbdProtocol.CMD_FLUSH, 0, 0, 0, null, null);
    }

    private CompletableFuture<Void> send(
            int type, int flags, long offset, int length, ByteBuffer payload, ByteBuffer dst) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        NbdClientException b = broken;
        if (b != null) return CompletableFuture.failedFuture(b);
        long handle = handles.incrementAndGet();
        // registered before it is sent: the reply may come before send returns
        inFlight.put(handle, new Request(type, offset, length, dst == null ? null : dst.duplicate(), done));
        ByteBuffer header = ByteBuffer.allocate(NbdProtocol.REQUEST_HEADER)
                .putInt(NbdProtocol.REQUEST_MAGIC)
                .putShort((short) flags)
                .putShort((short) type)
                .putLong(handle)
                .putLong(offset)
                .putInt(length)
                .flip();
        ByteBuffer[] parts =
                payload == null ? new ByteBuffer[] {header} : new ByteBuffer[] {header, payload.duplicate()};
        try {
            synchronized (sendLock) {
                while (parts[parts.length - 1].hasRemaining()) channel.write(parts);
            }
        } catch (IOException e) {
            fail(new NbdClientException(
                    NbdClientException.Code.DISCONNECTED, where + ": sending failed: " + describe(e), e));
        }
        if (broken != null && inFlight.remove(handle) != null) deliver(() -> done.completeExceptionally(broken));
        return done;
    }

    private void readReplies() {
        ByteBuffer header = ByteBuffer.allocate(NbdProtocol.SIMPLE_REPLY_HEADER);
        try {
            while (true) {
                header.clear();
                readFully(header);
                header.flip();
                int magic = header.getInt();
                int error = header.getInt();
                long handle = header.getLong();
                if (magic != NbdProtocol.SIMPLE_REPLY_MAGIC) {
                    throw new NbdClientException(
                            NbdClientException.Code.PROTOCOL,
                            where + ": reply magic 0x" + Integer.toHexString(magic) + " (structured replies were not"
                                    + " asked for)");
                }
                Request r = inFlight.remove(handle);
                if (r == null) {
                    throw new NbdClientException(
                            NbdClientException.Code.PROTOCOL, where + ": a reply for unknown handle " + handle);
                }
                if (error == 0 && r.type() == NbdProtocol.CMD_READ) readFully(r.dst());
                deliver(() -> complete(r, error));
            }
        } catch (NbdClientException e) {
            fail(e);
        } catch (IOException e) {
            fail(new NbdClientException(
                    NbdClientException.Code.DISCONNECTED, where + ": connection lost: " + describe(e), e));
        }
    }

    private void complete(Request r, int error) {
        if (error == 0) {
            r.done().complete(null);
            return;
        }
        NbdError known = null;
        for (NbdError e : NbdError.values()) if (e.code() == error) known = e;
        r.done()
                .completeExceptionally(new NbdClientException(
                        NbdClientException.Code.ERROR_REPLY,
                        known,
                        where + ": " + NbdProtocol.commandName(r.type()) + " of " + r.length() + " bytes at "
                                + r.offset() + " failed: " + (known != null ? known.name() : "error " + error),
                        null));
    }

    private void readFully(ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            if (channel.read(b) < 0) throw new EOFException("the server closed the connection");
        }
    }

    /** Marks the connection broken (the first reason wins) and fails every request in flight. */
    private void fail(NbdClientException why) {
        synchronized (this) {
            if (broken == null) broken = why;
        }
        closeQuietly(channel);
        List<Request> left = new ArrayList<>();
        for (Long h : List.copyOf(inFlight.keySet())) {
            Request r = inFlight.remove(h);
            if (r != null) left.add(r);
        }
        NbdClientException reason = broken;
        if (!left.isEmpty()) {
            deliver(() -> left.forEach(r -> r.done().completeExceptionally(reason)));
        }
    }

    /** Runs {@code completion} on the completion thread, or here once that thread is shut down (after close). */
    private void deliver(Runnable completion) {
        try {
            completions.execute(completion);
        } catch (RejectedExecutionException e) {
            completion.run();
        }
    }

    /** Requests sent whose replies have not arrived. */
    public int inFlight() {
        return inFlight.size();
    }

    /**
     * Sends NBD_CMD_DISC (the server finishes what is in flight first), waits up to 10 s for the
     * replies still due, closes the connection and fails whatever is left.
     */
    @Override
    public void close() {
        if (broken == null) {
            try {
                ByteBuffer disc = ByteBuffer.allocate(NbdProtocol.REQUEST_HEADER)
                        .putInt(NbdProtocol.REQUEST_MAGIC)
                        .putShort((short) 0)
                        .putShort((short) NbdProtocol.CMD_DISC)
                        .putLong(handles.incrementAndGet())
                        .putLong(0)
                        .putInt(0)
                        .flip();
                synchronized (sendLock) {
                    while (disc.hasRemaining()) channel.write(disc);
                }
                reader.join(TimeUnit.SECONDS.toMillis(10));
            } catch (IOException e) {
                // the connection is already gone: fail() below reports the requests left
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        fail(new NbdClientException(NbdClientException.Code.DISCONNECTED, where + ": the client was closed"));
        completions.shutdown();
        try {
            completions.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static String describe(IOException e) {
        if (e instanceof SocketTimeoutException) return "no answer in time";
        if (e instanceof EOFException) return "the server closed the connection";
        return e.getMessage() == null ? e.toString() : e.getMessage();
    }

    private static void closeQuietly(SocketChannel ch) {
        try {
            ch.close();
        } catch (IOException e) {
            // closing: nothing left to tell
        }
    }

    @Override
    public String toString() {
        return "nbd://" + where;
    }
}
