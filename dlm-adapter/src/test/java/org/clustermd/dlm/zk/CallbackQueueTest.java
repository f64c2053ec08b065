package org.clustermd.dlm.zk;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * {@link CallbackQueue}: tasks keep their order whoever runs them, and a caller that drains its
 * own completions on the uncontended path wakes no other thread (docs/lessons.md §53).
 */
class CallbackQueueTest {
    @Test
    void drainingOnTheCallersThreadLeavesTheQueueThreadAsleep() throws Exception {
        try (CallbackQueue q = new CallbackQueue("wakeprobe")) {
            Path task = queueThreadTask("dlm-ast-wakepro"); // Linux keeps 15 characters of a thread's name
            List<Integer> ran = new ArrayList<>();
            q.enqueue(() -> ran.add(-1));
            q.drain();
            long before = contextSwitches(task);
            for (int i = 0; i < 2000; i++) {
                int n = i;
                q.enqueue(() -> ran.add(n));
                q.drain();
            }
            long woken = contextSwitches(task) - before;
            assertThat(ran).hasSize(2001);
            assertThat(woken)
                    .as("the queue thread's context switches over 2000 uncontended drains")
                    .isLessThan(100);
        }
    }

    @Test
    void whatACallerLeavesBehindRunsOnTheQueueThreadInOrder() throws Exception {
        try (CallbackQueue q = new CallbackQueue("order")) {
            List<Integer> ran = new ArrayList<>();
            CountDownLatch done = new CountDownLatch(1);
            // the first task enqueues more while it runs: the caller's budget is one task, so the
            // rest is the queue thread's, which must be woken for it
            q.enqueue(() -> {
                synchronized (ran) {
                    ran.add(0);
                }
                for (int i = 1; i <= 3; i++) {
                    int n = i;
                    q.enqueue(() -> {
                        synchronized (ran) {
                            ran.add(n);
                        }
                        if (n == 3) {
                            done.countDown();
                        }
                    });
                }
            });
            q.drain();
            assertThat(done.await(10, TimeUnit.SECONDS))
                    .as("the left-over tasks ran")
                    .isTrue();
            synchronized (ran) {
                assertThat(ran).containsExactly(0, 1, 2, 3);
            }
        }
    }

    /** The queue thread's /proc entry; it names itself only once it runs, after start() returned. */
    private static Path queueThreadTask(String comm) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        do {
            try (Stream<Path> tasks = Files.list(Path.of("/proc/self/task"))) {
                for (Path t : tasks.toList()) {
                    try {
                        if (Files.readString(t.resolve("comm")).trim().equals(comm)) {
                            return t;
                        }
                    } catch (IOException gone) {
                        // a thread that ended while we listed
                    }
                }
            }
            Thread.sleep(10);
        } while (System.nanoTime() < deadline);
        throw new AssertionError("no thread named " + comm);
    }

    private static long contextSwitches(Path task) throws IOException {
        long n = 0;
        for (String line : Files.readAllLines(task.resolve("status"))) {
            if (line.startsWith("voluntary_ctxt_switches:") || line.startsWith("nonvoluntary_ctxt_switches:")) {
                n += Long.parseLong(line.substring(line.indexOf(':') + 1).trim());
            }
        }
        return n;
    }
}
