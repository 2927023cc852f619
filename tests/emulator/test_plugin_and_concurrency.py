"""The pytest fixtures, and the backend's lock under concurrent requests."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.emulator.conftest import Api
from vast_pulumi.emulator import DEFAULT_API_KEY, Emulator
from vast_pulumi.emulator.pytest_plugin import FAST_BOOT_SECONDS, FAST_DESTROY_SECONDS, EmulatorFactory


def test_vast_emulator_fixture_is_running_with_the_default_key(vast_emulator: Emulator) -> None:
    assert Api(vast_emulator.url, DEFAULT_API_KEY).get("/api/v0/users/current/").status_code == 200
    assert vast_emulator.backend.boot_seconds == FAST_BOOT_SECONDS


def test_vast_emulator_factory_passes_options_and_starts_several(
    vast_emulator_factory: EmulatorFactory,
) -> None:
    first = vast_emulator_factory(api_keys=["a"], faults="503=1")
    second = vast_emulator_factory(api_keys=["b"], seed=9)
    assert first.url != second.url
    assert Api(first.url, "a").get("/api/v0/users/current/").status_code == 503
    assert Api(second.url, "b").get("/api/v0/users/current/").status_code == 200


def test_concurrent_creates_get_distinct_ids(api: Api, emulator: Emulator) -> None:
    offer_ids = [o["id"] for o in api.offers(gpu_name={"eq": "RTX 4090"}, num_gpus={"eq": 1}, limit=24)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        endpoint_ids = list(
            pool.map(lambda n: Api(emulator.url, "k-alpha").endpoint(endpoint_name=f"e{n}"), range(40))
        )
        instance_ids = list(pool.map(lambda o: Api(emulator.url, "k-alpha").rent(o), offer_ids))
    assert len(set(endpoint_ids)) == 40
    assert len(set(instance_ids)) == len(offer_ids)
    account = emulator.backend.authenticate("k-alpha")
    assert len(account.endpoints) == 40
    assert len(account.instances) == len(offer_ids)


def test_one_offer_rented_by_many_at_once_goes_to_exactly_one(api: Api, emulator: Emulator) -> None:
    offer_id = api.offers(gpu_name={"eq": "RTX 4090"}, limit=1)[0]["id"]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(
            pool.map(
                lambda _: Api(emulator.url, "k-alpha").put(f"/api/v0/asks/{offer_id}/", {"image": "x"}),
                range(8),
            )
        )
    assert sorted(r.status_code for r in answers) == [200] + [404] * 7


def test_the_fixtures_answer_as_the_real_service_does(
    vast_emulator: Emulator, vast_emulator_factory: EmulatorFactory
) -> None:
    assert Api(vast_emulator.url, DEFAULT_API_KEY).get("/api/v0/endptjobs/").status_code == 400
    assert vast_emulator.backend.destroy_seconds == FAST_DESTROY_SECONDS > 0  # asynchronous, and short
    assert vast_emulator.backend.workers is True
    immediate = vast_emulator_factory(api_keys=["r"], destroy_seconds=0.0, no_endpoints_error=False)
    assert Api(immediate.url, "r").get("/api/v0/endptjobs/").status_code == 200
    assert immediate.backend.destroy_seconds == 0.0
