package org.clustermd.dlm.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.Field;
import java.nio.file.Path;
import org.apache.zookeeper.server.persistence.FileTxnLog;
import org.apache.zookeeper.server.persistence.FileTxnSnapLog;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ServerStorageTest {
    @TempDir
    Path dir;

    @Test
    void forceSyncIsChosenPerServerAndTheJvmWidePropertyIsPutBack() throws Exception {
        String before = System.getProperty("zookeeper.forceSync");
        FileTxnSnapLog off = ServerStorage.open(dir.resolve("off"), dir.resolve("off-log"), false);
        FileTxnSnapLog on = ServerStorage.open(dir.resolve("on"), dir.resolve("on-log"), true);
        try {
            assertThat(txnLog(off).isForceSync()).isFalse();
            assertThat(txnLog(on).isForceSync()).isTrue();
            assertThat(System.getProperty("zookeeper.forceSync")).isEqualTo(before);
            assertThat(dir.resolve("off-log/version-2")).isDirectory();
            assertThat(dir.resolve("off/version-2")).isDirectory();
        } finally {
            off.close();
            on.close();
        }
    }

    /** ZooKeeper keeps the log in a package-private field; reading it is the only way to see the choice. */
    private static FileTxnLog txnLog(FileTxnSnapLog snapLog) throws ReflectiveOperationException {
        Field f = FileTxnSnapLog.class.getDeclaredField("txnLog");
        f.setAccessible(true);
        return (FileTxnLog) f.get(snapLog);
    }
}
