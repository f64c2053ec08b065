package org.clustermd.dlm.server;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;

/**
 * Picks free TCP ports on one address by binding port 0. All sockets of one call are held
 * open together, so the ports it returns are distinct; another process may still take one
 * before the server binds it, which then fails with a clear BIND error.
 *
 * <p>Stateless; safe from any thread.
 */
final class LocalPorts {
    private LocalPorts() {}

    static int[] pick(String address, int count) throws EmbeddedServerException {
        List<ServerSocket> held = new ArrayList<>(count);
        try {
            InetAddress bind = InetAddress.getByName(address);
            int[] ports = new int[count];
            for (int i = 0; i < count; i++) {
                ServerSocket s = new ServerSocket(0, 1, bind);
                s.setReuseAddress(true);
                held.add(s);
                ports[i] = s.getLocalPort();
            }
            return ports;
        } catch (IOException e) {
            throw new EmbeddedServerException(
                    EmbeddedServerException.Code.BIND,
                    "cannot pick " + count + " free ports on " + address + ": " + e,
                    e);
        } finally {
            for (ServerSocket s : held) {
                try {
                    s.close();
                } catch (IOException e) {
                    // the port is still free for our purpose
                }
            }
        }
    }
}
