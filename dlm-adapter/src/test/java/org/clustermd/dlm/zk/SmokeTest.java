package org.clustermd.dlm.zk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.curator.test.TestingServer;
import org.clustermd.dlm.LockMode;
import org.clustermd.dlm.LockResource;
import org.clustermd.dlm.LockSpace;
import org.clustermd.dlm.LockSpaceOptions;
import org.clustermd.dlm.LockValueBlock;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.Test;

class SmokeTest {
    @Test
    void twoNodesContendForEx() throws Exception {
        try (TestingServer zk = new TestingServer();
                ZkLockManager a = ZkLockManager.builder()
                        .connectString(zk.getConnectString())
                        .cluster("c")
                        .nodeName("a")
                        .build();
                ZkLockManager b = ZkLockManager.builder()
                        .connectString(zk.getConnectString())
                        .cluster("c")
                        .nodeName("b")
                        .build()) {
            LockSpace la = a.join("ls", LockSpaceOptions.of(4).withRequestTimeout(Duration.ofSeconds(5)));
            LockSpace lb = b.join("ls", LockSpaceOptions.of(4).withRequestTimeout(Duration.ofSeconds(5)));
            assertThat(la.slot().number()).isEqualTo(0);
            assertThat(lb.slot().number()).isEqualTo(1);
            LockResource ra = la.resource("token");
            LockResource rb = lb.resource("token");
            var g = ra.convert(LockMode.EX);
            assertThat(g.fencingToken()).isPositive();
            ra.setValueBlock(LockValueBlock.of(new byte[64]).resized(64));
            byte[] v = new byte[64];
            v[0] = 42;
            ra.setValueBlock(LockValueBlock.of(v));
            assertThatThrownBy(() -> rb.tryConvert(LockMode.PR)).hasMessageContaining("NOT_GRANTED");
            CompletableFuture<?> waiting = rb.convertAsync(LockMode.PR);
            Thread.sleep(200);
            assertThat(waiting).isNotDone();
            ra.unlock();
            var gb = (org.clustermd.dlm.LockGrant) waiting.get(Timing.seconds(5).toMillis(), TimeUnit.MILLISECONDS);
            assertThat(gb.mode()).isEqualTo(LockMode.PR);
            assertThat(gb.valueBlock().toByteArray()[0]).isEqualTo((byte) 42);
            var g2 = ra.convert(LockMode.PR);
            assertThat(g2.mode()).isEqualTo(LockMode.PR);
            CompletableFuture<?> ex = rb.convertAsync(LockMode.EX);
            Thread.sleep(200);
            assertThat(ex).isNotDone();
            ra.unlock();
            ex.get(Timing.seconds(5).toMillis(), TimeUnit.MILLISECONDS);
            assertThat(rb.fencingToken()).isGreaterThan(g.fencingToken());
            rb.unlock();
            la.close();
            lb.close();
        }
    }
}
