package org.clustermd.dlm.zk;

import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.jute.Record;
import org.apache.zookeeper.ZooDefs.OpCode;
import org.apache.zookeeper.server.ByteBufferInputStream;
import org.apache.zookeeper.server.persistence.FileTxnLog;
import org.apache.zookeeper.server.persistence.TxnLog;
import org.apache.zookeeper.txn.CreateTxn;
import org.apache.zookeeper.txn.DeleteTxn;
import org.apache.zookeeper.txn.MultiTxn;
import org.apache.zookeeper.txn.Txn;
import org.apache.zookeeper.txn.TxnHeader;

/**
 * Replays a ZooKeeper server's transaction log and checks the lock manager's invariant in every
 * committed state: on every resource, the granted modes of all locks are pairwise compatible.
 * This sees every state, including those no client observed (during a leader election, say).
 */
final class TxnLogReplay {
    /** The outcome: how many transactions and resource states were checked, and violations. */
    record Result(long txns, long statesChecked, long lockTxns, List<String> violations, List<String> gaps) {}

    static Result replay(File dataDir) throws IOException {
        File logDir = new File(dataDir, "version-2");
        Map<String, Set<String>> tables = new HashMap<>();
        List<String> violations = new ArrayList<>();
        List<String> gaps = new ArrayList<>();
        long txns = 0;
        long states = 0;
        long lockTxns = 0;
        long lastZxid = 0;
        try (FileTxnLog log = new FileTxnLog(logDir);
                TxnLog.TxnIterator it = log.read(1)) {
            while (it.getHeader() != null) {
                TxnHeader h = it.getHeader();
                long zxid = h.getZxid();
                if (lastZxid != 0) {
                    boolean sameEpoch = (zxid >>> 32) == (lastZxid >>> 32);
                    if (sameEpoch ? zxid != lastZxid + 1 : (zxid & 0xffffffffL) != 1) {
                        gaps.add(Long.toHexString(lastZxid) + " -> " + Long.toHexString(zxid));
                    }
                }
                lastZxid = zxid;
                txns++;
                Set<String> touched = new HashSet<>();
                for (Object[] op : ops(h.getType(), it.getTxn())) {
                    int type = (int) op[0];
                    String path = (String) op[1];
                    int slash = path.lastIndexOf('/');
                    String parent = path.substring(0, slash);
                    String child = path.substring(slash + 1);
                    if (!parent.contains("/res/") || !child.startsWith(LockEntry.PREFIX)) {
                        continue;
                    }
                    touched.add(parent);
                    Set<String> t = tables.computeIfAbsent(parent, k -> new HashSet<>());
                    if (type == OpCode.create || type == OpCode.create2) {
                        t.add(child);
                    } else {
                        t.remove(child);
                    }
                }
                if (!touched.isEmpty()) {
                    lockTxns++;
                }
                for (String res : touched) {
                    states++;
                    List<LockEntry> held = new ArrayList<>();
                    for (String c : tables.get(res)) {
                        LockEntry e = LockEntry.parse(c);
                        if (e.granted() != null) {
                            held.add(e);
                        }
                    }
                    for (int i = 0; i < held.size(); i++) {
                        for (int j = i + 1; j < held.size(); j++) {
                            if (!held.get(i)
                                    .granted()
                                    .isCompatibleWith(held.get(j).granted())) {
                                violations.add("zxid " + Long.toHexString(zxid) + " " + res + ": "
                                        + held.get(i).znode() + " and "
                                        + held.get(j).znode());
                            }
                        }
                    }
                }
                if (!it.next()) {
                    break;
                }
            }
        }
        return new Result(txns, states, lockTxns, violations, gaps);
    }

    /** The (type, path) pairs of the creates and deletes a transaction applied. */
    private static List<Object[]> ops(int type, Record txn) throws IOException {
        List<Object[]> out = new ArrayList<>();
        if (txn instanceof CreateTxn c) {
            out.add(new Object[] {OpCode.create, c.getPath()});
        } else if (txn instanceof DeleteTxn d) {
            out.add(new Object[] {OpCode.delete, d.getPath()});
        } else if (txn instanceof MultiTxn m) {
            for (Txn sub : m.getTxns()) {
                if (sub.getType() == OpCode.error) {
                    return List.of(); // a failed multi applies nothing
                }
            }
            for (Txn sub : m.getTxns()) {
                if (sub.getType() == OpCode.create
                        || sub.getType() == OpCode.create2
                        || sub.getType() == OpCode.createContainer) {
                    CreateTxn c = new CreateTxn();
                    ByteBufferInputStream.byteBuffer2Record(ByteBuffer.wrap(sub.getData()), c);
                    out.add(new Object[] {OpCode.create, c.getPath()});
                } else if (sub.getType() == OpCode.delete || sub.getType() == OpCode.deleteContainer) {
                    DeleteTxn d = new DeleteTxn();
                    ByteBufferInputStream.byteBuffer2Record(ByteBuffer.wrap(sub.getData()), d);
                    out.add(new Object[] {OpCode.delete, d.getPath()});
                }
            }
        }
        return out;
    }
}
