package org.clustermd.cluster.cli;

import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Lets a foreground verb stop cleanly on SIGTERM or SIGINT and still exit 0. The JVM's own
 * reaction (run shutdown hooks, exit 128+signal) would turn an orderly stop into exit 143, so
 * the two signals are taken over and only open a latch the verb waits on.
 *
 * <p>Uses {@code sun.misc.Signal} (module jdk.unsupported) through reflection, which keeps the
 * build free of internal-API warnings; where it is missing the JVM's default handling stays
 * and the verb's shutdown hook still closes what it opened.
 *
 * <p>Thread-safe: the latch is the only state.
 */
final class ForegroundSignals {
    private static final Logger LOG = LoggerFactory.getLogger(ForegroundSignals.class);

    private final CountDownLatch stop = new CountDownLatch(1);
    private volatile String received;

    private ForegroundSignals() {}

    /** Takes over SIGTERM and SIGINT for this JVM. */
    static ForegroundSignals install() {
        ForegroundSignals s = new ForegroundSignals();
        s.handle("TERM");
        s.handle("INT");
        return s;
    }

    private void handle(String name) {
        try {
            Class<?> signalType = Class.forName("sun.misc.Signal");
            Class<?> handlerType = Class.forName("sun.misc.SignalHandler");
            Object signal = signalType.getConstructor(String.class).newInstance(name);
            Object handler = Proxy.newProxyInstance(
                    handlerType.getClassLoader(), new Class<?>[] {handlerType}, (proxy, method, args) -> {
                        if ("handle".equals(method.getName())) {
                            received = "SIG" + name;
                            stop.countDown();
                            return null;
                        }
                        return switch (method.getName()) {
                            case "hashCode" -> System.identityHashCode(proxy);
                            case "equals" -> proxy == args[0];
                            case "toString" -> "clustermd SIG" + name + " handler";
                            default -> null;
                        };
                    });
            Method handle = signalType.getMethod("handle", signalType, handlerType);
            handle.invoke(null, signal, handler);
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            LOG.warn("cannot take over SIG{} ({}); the JVM's default handling stays", name, e.toString());
        }
    }

    /** Opens the latch from inside the program (e.g. when the server fails). */
    void stop(String reason) {
        received = reason;
        stop.countDown();
    }

    /** What arrived ("SIGTERM", or the reason given to {@link #stop}), or null while nothing did. */
    String reason() {
        return received;
    }

    /** Blocks until a signal (or {@link #stop}) arrives; returns what arrived. */
    String await() throws InterruptedException {
        stop.await();
        return received;
    }
}
