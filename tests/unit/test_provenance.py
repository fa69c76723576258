"""A signed C2PA manifest where the user gives a certificate: written offline, read back, bound to the bytes."""

import datetime
import json
import signal
import subprocess
import sys

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from faceswap.convert.disclosure import DIGITAL_SOURCE_TYPE, container_metadata
from faceswap.convert.provenance import read_manifest, sign_in_place, signing_files
from faceswap.core.atomic import atomic_file
from faceswap.core.cli import UserError
from faceswap.media import video
from tests.helpers import REPO, container_tags

USAGE = dict(content_commitment=False, key_encipherment=False, data_encipherment=False, key_agreement=False,
             encipher_only=False, decipher_only=False)


def certificate(subject: str, key, issuer=None, issuer_key=None):
    """An X.509 certificate: a CA when ``issuer`` is None, else a signing certificate issued by it, with the
    key usages C2PA asks of a signer."""
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject), x509.NameAttribute(NameOID.ORGANIZATION_NAME,
                                                                                           "faceswap tests")])
    ca = issuer is None
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name if ca else issuer.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=7))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=not ca, key_cert_sign=ca, crl_sign=ca, **USAGE),
                              critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    if not ca:
        builder = (builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                                  critical=False))
    return builder.sign(issuer_key or key, hashes.SHA256())


@pytest.fixture
def credentials(tmp_path, monkeypatch):
    """A test CA and a signing certificate it issued (ES256), as files named by the environment."""
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = certificate("faceswap test CA", ca_key)
    signer = certificate("faceswap test signer", key, ca, ca_key)
    cert, private = tmp_path / "chain.pem", tmp_path / "key.pem"
    cert.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (signer, ca)))
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    monkeypatch.setenv("FACESWAP_C2PA_CERT", str(cert))
    monkeypatch.setenv("FACESWAP_C2PA_KEY", str(private))
    return signing_files()


def labelled_clip(path, media) -> None:
    reference = media / "pair/source.mp4"
    info = video.probe(reference)
    encoder = video.Encoder(path, info, reference, crf=30, preset="ultrafast",
                            metadata=container_metadata("AI-generated face swap"))
    for frame in video.decode(reference, info):
        encoder.write(frame)
    encoder.close()


def test_the_signed_manifest_says_what_the_video_is_and_breaks_when_a_byte_changes(tmp_path, media, credentials):
    clip = tmp_path / "swapped.mp4"
    labelled_clip(clip, media)
    sign_in_place(clip, "swapped.mp4", "AI-generated face swap", credentials)

    store = read_manifest(clip)
    assertions = {assertion["label"]: assertion["data"] for assertion in store["manifest"]["assertions"]}
    (action,) = assertions["c2pa.actions.v2"]["actions"]
    assert action["digitalSourceType"] == DIGITAL_SOURCE_TYPE and action["action"] == "c2pa.created"
    assert store["manifest"]["signature_info"]["common_name"] == "faceswap test signer"
    # valid, but signed by a CA that is not on the C2PA trust list: the one complaint
    assert [status["code"] for status in store["validation_status"]] == ["signingCredential.untrusted"]
    assert container_tags(clip)["ai_generated"] == "true"  # the MP4 metadata survives signing
    assert sum(1 for _ in video.decode(clip, video.probe(clip))) == 72

    data = bytearray(clip.read_bytes())
    middle = data.index(b"mdat") + len(data) // 3
    data[middle] ^= 0xFF
    clip.write_bytes(bytes(data))
    codes = [status["code"] for status in read_manifest(clip)["validation_status"]]
    assert any("mismatch" in code for code in codes), json.dumps(codes)


def test_signing_settings_are_checked(tmp_path, monkeypatch, credentials):
    assert credentials[2] == "es256"
    monkeypatch.setenv("FACESWAP_C2PA_ALG", "rsa")
    with pytest.raises(UserError, match="FACESWAP_C2PA_ALG"):
        signing_files()
    monkeypatch.delenv("FACESWAP_C2PA_ALG")
    monkeypatch.delenv("FACESWAP_C2PA_KEY")
    with pytest.raises(UserError, match="set both"):
        signing_files()
    monkeypatch.setenv("FACESWAP_C2PA_KEY", str(tmp_path / "missing.pem"))
    with pytest.raises(UserError, match="missing.pem: no such file"):
        signing_files()
    monkeypatch.delenv("FACESWAP_C2PA_CERT")
    monkeypatch.delenv("FACESWAP_C2PA_KEY")
    assert signing_files() is None


def test_a_key_that_does_not_fit_the_algorithm_is_one_error_and_leaves_the_video(tmp_path, media, credentials):
    clip = tmp_path / "swapped.mp4"
    labelled_clip(clip, media)
    before = clip.read_bytes()
    cert, key, _ = credentials
    with pytest.raises(UserError, match="C2PA signing failed"):
        sign_in_place(clip, "swapped.mp4", "AI-generated face swap", (cert, key, "ps256"))
    assert clip.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == [
        "chain.pem", "key.pem", "swapped.mp4"]


# Signs a copy of a clip as the output stage does (an atomic_file temporary of the output, signed in place) and is
# killed by the kernel half-way through writing the signed copy: past the file size it is allowed (SIGXFSZ).
SIGN_AND_DIE = """
import resource, shutil, signal, sys
from pathlib import Path
from faceswap.convert.provenance import sign_in_place, signing_files
from faceswap.core.atomic import atomic_file

clip, output = Path(sys.argv[1]), Path(sys.argv[2])
with atomic_file(output) as tmp:
    shutil.copy(clip, tmp)
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)  # Python ignores it; by default it kills, as kill -9 does
    resource.setrlimit(resource.RLIMIT_FSIZE, (clip.stat().st_size // 2, resource.RLIM_INFINITY))
    sign_in_place(tmp, output.name, "AI-generated face swap", signing_files())
"""


def test_what_a_kill_during_signing_leaves_is_removed_by_the_next_run(tmp_path, media, credentials):
    clip, output = tmp_path / "clip.mp4", tmp_path / "out" / "swapped.mp4"
    labelled_clip(clip, media)
    child = subprocess.run([sys.executable, "-c", SIGN_AND_DIE, str(clip), str(output)], cwd=REPO,
                           capture_output=True, text=True)
    assert child.returncode == -signal.SIGXFSZ, child.stderr
    assert len(list(output.parent.iterdir())) == 2  # the unsigned temporary and the signed one, cut short

    with atomic_file(output) as tmp:  # the next run of the output stage
        tmp.write_bytes(clip.read_bytes())
    assert [p.name for p in output.parent.iterdir()] == ["swapped.mp4"]
