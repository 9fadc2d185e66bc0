import pytest

from tests.alerts.keys import CertificateFetcher, build_rsa_key, build_signing_certificate
from tests.alerts.sns_standin import SnsStandIn


@pytest.fixture(scope="session")
def signing_key():
    return build_rsa_key()


@pytest.fixture(scope="session")
def signing_pem(signing_key):
    return build_signing_certificate(signing_key)


@pytest.fixture
def fetcher(signing_pem):
    return CertificateFetcher(signing_pem)


@pytest.fixture
async def sns_stand_in(tmp_path):
    stand_in = SnsStandIn(tmp_path)
    await stand_in.start()
    yield stand_in
    await stand_in.stop()
