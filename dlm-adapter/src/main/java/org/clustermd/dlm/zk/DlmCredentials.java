package org.clustermd.dlm.zk;

import java.nio.charset.StandardCharsets;
import java.security.NoSuchAlgorithmException;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.server.auth.DigestAuthenticationProvider;

/**
 * The cluster's identity on ZooKeeper, and how the connection that proves it is made. With
 * credentials, every znode the lock manager creates gets an ACL that grants all permissions to
 * that identity and nothing to anyone else (ZooKeeper ACLs are per znode and not inherited, so
 * each create carries it); without, znodes are open, which is only acceptable on the embedded
 * server bound to 127.0.0.1. Any of them may go {@link #overTls over TLS}: the digest's password
 * then never crosses the network in the clear, and x509's identity is the TLS client
 * certificate itself.
 *
 * <p>Immutable and thread-safe.
 */
public sealed interface DlmCredentials {

    /** The ACL for every znode created with these credentials. */
    List<ACL> acl();

    /** The auth scheme to add to the session, or null when the identity comes from TLS. */
    String authScheme();

    /** The auth bytes for {@link #authScheme()}. */
    byte[] authBytes();

    /** The TLS settings of the connection, or null for a plaintext one. */
    default ZkClientTls tls() {
        return null;
    }

    /** These credentials on a TLS connection made with {@code tls}. */
    default DlmCredentials overTls(ZkClientTls tls) {
        return new OverTls(this, tls);
    }

    /** No credentials: open ACLs. */
    static DlmCredentials none() {
        return None.INSTANCE;
    }

    /** ZooKeeper's digest scheme: user and password, shared by every node of the cluster. */
    static DlmCredentials digest(String user, String password) {
        return new Digest(user, password);
    }

    /**
     * ZooKeeper's x509 scheme: the session is authenticated by its TLS client certificate (configure
     * TLS with {@link #overTls} or {@link ZkLockManager.Builder#tls}); ACLs name the certificate's
     * subject.
     *
     * @param subjectDn the client certificate's subject as ZooKeeper reports it, e.g.
     *     {@code CN=clustermd,O=example}
     */
    static DlmCredentials x509(String subjectDn) {
        return new X509(subjectDn);
    }

    /** Open ACLs. */
    final class None implements DlmCredentials {
        private static final None INSTANCE = new None();

        private None() {}

        @Override
        public List<ACL> acl() {
            return ZooDefs.Ids.OPEN_ACL_UNSAFE;
        }

        @Override
        public String authScheme() {
            return null;
        }

        @Override
        public byte[] authBytes() {
            return null;
        }
    }

    /** Digest credentials. */
    record Digest(String user, String password) implements DlmCredentials {
        public Digest {
            Objects.requireNonNull(user, "user");
            Objects.requireNonNull(password, "password");
            if (user.isEmpty() || user.contains(":")) {
                throw new IllegalArgumentException("digest user must be non-empty and contain no ':'");
            }
        }

        @Override
        public List<ACL> acl() {
            try {
                String id = DigestAuthenticationProvider.generateDigest(user + ":" + password);
                // a mutable-semantics list: ZooKeeper's ACL check calls contains(null), which List.of refuses
                return Collections.singletonList(new ACL(ZooDefs.Perms.ALL, new Id("digest", id)));
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException("SHA1 is not available", e);
            }
        }

        @Override
        public String authScheme() {
            return "digest";
        }

        @Override
        public byte[] authBytes() {
            return (user + ":" + password).getBytes(StandardCharsets.UTF_8);
        }

        @Override
        public String toString() {
            return "digest " + user + ":***";
        }
    }

    /** x509 credentials. */
    record X509(String subjectDn) implements DlmCredentials {
        public X509 {
            Objects.requireNonNull(subjectDn, "subjectDn");
        }

        @Override
        public List<ACL> acl() {
            return Collections.singletonList(new ACL(ZooDefs.Perms.ALL, new Id("x509", subjectDn)));
        }

        @Override
        public String authScheme() {
            return null;
        }

        @Override
        public byte[] authBytes() {
            return null;
        }
    }

    /** An identity on a TLS connection. */
    record OverTls(DlmCredentials identity, ZkClientTls tls) implements DlmCredentials {
        public OverTls {
            Objects.requireNonNull(identity, "identity");
            Objects.requireNonNull(tls, "tls");
            if (identity instanceof OverTls) throw new IllegalArgumentException("already over TLS");
        }

        @Override
        public List<ACL> acl() {
            return identity.acl();
        }

        @Override
        public String authScheme() {
            return identity.authScheme();
        }

        @Override
        public byte[] authBytes() {
            return identity.authBytes();
        }

        @Override
        public String toString() {
            return identity + " over " + tls;
        }
    }
}
