package org.clustermd.dlm.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class ServerThreadGroupTest {
    @Test
    void threadsStartedFromTheLauncherAreInTheGroupAndDaemons() throws Exception {
        ServerThreadGroup group = new ServerThreadGroup("test-daemons");
        AtomicReference<Thread> started = new AtomicReference<>();
        CountDownLatch release = new CountDownLatch(1);
        group.run("starting", EmbeddedServerException.Code.START, () -> {
            Thread t = new Thread(() -> awaitQuietly(release), "worker");
            t.start();
            started.set(t);
            return null;
        });
        assertThat(started.get().isDaemon()).isTrue();
        assertThat(group.liveThreads()).containsExactly(started.get());
        release.countDown();
        assertThat(group.awaitTermination(Duration.ofSeconds(10), Duration.ofSeconds(5)))
                .isEmpty();
    }

    @Test
    void stragglersWaitingOnAQueueAreInterruptedAfterTheGraceDaemonOrNot() throws Exception {
        ServerThreadGroup group = new ServerThreadGroup("test-stragglers");
        group.run("starting", EmbeddedServerException.Code.START, () -> {
            // like a LearnerHandler's Sender: waits on a queue nobody will feed
            new Thread(ServerThreadGroupTest::takeQuietly, "Sender-/127.0.0.1:1").start();
            // the JDK's default thread factory (executors use it) makes non-daemon threads
            Executors.defaultThreadFactory()
                    .newThread(ServerThreadGroupTest::takeQuietly)
                    .start();
            return null;
        });
        assertThat(group.liveThreads()).hasSize(2).anyMatch(t -> !t.isDaemon());
        assertThat(group.awaitTermination(Duration.ofSeconds(10), Duration.ofMillis(100)))
                .isEmpty();
    }

    @Test
    void aThreadThatIgnoresInterruptsIsReportedByName() throws Exception {
        ServerThreadGroup group = new ServerThreadGroup("test-stubborn");
        AtomicBoolean stop = new AtomicBoolean();
        group.run("starting", EmbeddedServerException.Code.START, () -> {
            new Thread(
                            () -> {
                                while (!stop.get()) {
                                    Thread.onSpinWait();
                                }
                            },
                            "stubborn")
                    .start();
            return null;
        });
        assertThat(group.awaitTermination(Duration.ofMillis(300), Duration.ofMillis(50)))
                .containsExactly("stubborn");
        stop.set(true);
        assertThat(group.awaitTermination(Duration.ofSeconds(10), Duration.ofSeconds(5)))
                .isEmpty();
    }

    @Test
    void aFailingTaskIsReportedWithItsCode() {
        ServerThreadGroup group = new ServerThreadGroup("test-failure");
        org.assertj.core.api.Assertions.assertThatThrownBy(
                        () -> group.run("starting X", EmbeddedServerException.Code.START, () -> {
                            throw new java.io.IOException("disk on fire");
                        }))
                .isInstanceOfSatisfying(
                        EmbeddedServerException.class,
                        e -> assertThat(e.code()).isEqualTo(EmbeddedServerException.Code.START))
                .hasMessageContaining("starting X")
                .hasMessageContaining("disk on fire");
    }

    private static void takeQuietly() {
        try {
            new LinkedBlockingQueue<Object>().take();
        } catch (InterruptedException e) {
            // interrupted by the stop, as intended
        }
    }

    private static void awaitQuietly(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            // stopping
        }
    }
}
