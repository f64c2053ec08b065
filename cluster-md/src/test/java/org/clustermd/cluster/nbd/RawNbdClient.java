package org.clustermd.cluster.nbd;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/** Test helper: an NBD client at the byte level, to send what real clients never would. */
final class RawNbdClient implements AutoCloseable {
    record OptionReply(long magic, int option, int type, byte[] data) {
        ByteBuffer buf() {
            return ByteBuffer.wrap(data);
        }
    }

    record SimpleReply(int magic, int error, long handle) {}

    private final Socket socket;
    final DataInputStream in;
    final DataOutputStream out;

    RawNbdClient(int port) throws IOException {
        socket = new Socket("127.0.0.1", port);
        socket.setSoTimeout(20_000);
        socket.setTcpNoDelay(true);
        in = new DataInputStream(socket.getInputStream());
        out = new DataOutputStream(socket.getOutputStream());
    }

    /** Reads the 18-byte greeting; returns the handshake flags. */
    int greeting() throws IOException {
        if (in.readLong() != NbdProtocol.INIT_PASSWD) throw new IOException("no NBDMAGIC");
        if (in.readLong() != NbdProtocol.OPTS_MAGIC) throw new IOException("no IHAVEOPT");
        return in.readUnsignedShort();
    }

    /** Greeting, then client flags FIXED_NEWSTYLE | NO_ZEROES. */
    RawNbdClient handshake() throws IOException {
        greeting();
        clientFlags(NbdProtocol.FLAG_C_FIXED_NEWSTYLE | NbdProtocol.FLAG_C_NO_ZEROES);
        return this;
    }

    void clientFlags(int flags) throws IOException {
        out.writeInt(flags);
        out.flush();
    }

    void option(int option, byte[] data) throws IOException {
        out.writeLong(NbdProtocol.OPTS_MAGIC);
        out.writeInt(option);
        out.writeInt(data.length);
        out.write(data);
        out.flush();
    }

    OptionReply optionReply() throws IOException {
        long magic = in.readLong();
        int option = in.readInt();
        int type = in.readInt();
        int len = in.readInt();
        byte[] data = new byte[len];
        in.readFully(data);
        return new OptionReply(magic, option, type, data);
    }

    /** The data of NBD_OPT_GO / NBD_OPT_INFO. */
    static byte[] infoData(String name, int... infos) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(4 + n.length + 2 + 2 * infos.length);
        b.putInt(n.length).put(n).putShort((short) infos.length);
        for (int i : infos) b.putShort((short) i);
        return b.array();
    }

    /** NBD_OPT_GO for {@code name} asking for the block size; reads replies through the final one, which it returns. */
    OptionReply go(String name) throws IOException {
        option(NbdProtocol.OPT_GO, infoData(name, NbdProtocol.INFO_BLOCK_SIZE));
        while (true) {
            OptionReply r = optionReply();
            if (r.type() != NbdProtocol.REP_INFO) return r;
        }
    }

    void request(int flags, int type, long handle, long offset, int length, byte[] payload) throws IOException {
        writeRequest(out, flags, type, handle, offset, length, payload);
        out.flush();
    }

    /** One transmission request, header and payload, as the protocol lays it out. */
    static void writeRequest(
            java.io.DataOutput out, int flags, int type, long handle, long offset, int length, byte[] payload)
            throws IOException {
        out.writeInt(NbdProtocol.REQUEST_MAGIC);
        out.writeShort(flags);
        out.writeShort(type);
        out.writeLong(handle);
        out.writeLong(offset);
        out.writeInt(length);
        if (payload != null) out.write(payload);
    }

    SimpleReply reply() throws IOException {
        return new SimpleReply(in.readInt(), in.readInt(), in.readLong());
    }

    byte[] readBytes(int n) throws IOException {
        byte[] b = new byte[n];
        in.readFully(b);
        return b;
    }

    /** True when the server closed the connection (end of stream or reset) before sending anything more. */
    boolean closedByServer() throws IOException {
        try {
            return in.read() < 0;
        } catch (EOFException | SocketException e) {
            return true;
        } catch (SocketTimeoutException e) {
            return false;
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
