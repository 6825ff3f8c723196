"""Writing the charge limit: request body, validation, API refusals."""

from __future__ import annotations

from http import HTTPStatus

from homeassistant.components.number import DOMAIN as NUMBER_DOMAIN
from homeassistant.components.number.const import ATTR_VALUE, SERVICE_SET_VALUE
from homeassistant.config_entries import SOURCE_REAUTH
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.test_util.aiohttp import AiohttpClientMocker

from custom_components.ev_energy.const import DOMAIN

from .conftest import (
    TOKEN_URL,
    VEHICLE_ID,
    VEHICLES_URL,
    Fault,
    MockApi,
    setup_integration,
    state_of,
)

CHARGE_LIMIT = "number.family_car_charge_limit"
PATCH_URL = f"{VEHICLES_URL}/{VEHICLE_ID}"


async def _set(hass: HomeAssistant, value: float) -> None:
    await hass.services.async_call(
        NUMBER_DOMAIN,
        SERVICE_SET_VALUE,
        {ATTR_ENTITY_ID: CHARGE_LIMIT, ATTR_VALUE: value},
        blocking=True,
    )


@pytest.mark.usefixtures("setup_credentials")
async def test_set_charge_limit(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    """The new limit is PATCHed and shown from the API's answer, without another poll."""
    await setup_integration(hass, config_entry)
    before = len(mock_api.calls())

    await _set(hass, 65)

    sent = mock_api.calls()[before:]
    assert len(sent) == 1
    method, url, body, headers = sent[0]
    assert method == "PATCH"
    assert str(url.with_query(None)) == PATCH_URL
    assert url.query.getall("expand") == ["latest_status_log", "trim.model.make"]
    assert body == {"maximum_charge_limit_percentage": 65}
    assert headers["EvEnergy-Version"] == "2"
    assert state_of(hass, CHARGE_LIMIT).state == "65"


@pytest.mark.parametrize("value", [49, 101, 70.5])
@pytest.mark.usefixtures("setup_credentials")
async def test_invalid_value_refused_before_any_request(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi, value: float
) -> None:
    """Out-of-range or fractional limits are refused with a validation error, nothing sent."""
    await setup_integration(hass, config_entry)
    before = len(mock_api.calls())

    with pytest.raises(ServiceValidationError):
        await _set(hass, value)

    assert len(mock_api.calls()) == before
    assert state_of(hass, CHARGE_LIMIT).state == "80"


@pytest.mark.usefixtures("setup_credentials")
async def test_fractional_value_message(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    """Our own validation explains the allowed values in the user's language."""
    await setup_integration(hass, config_entry)
    with pytest.raises(ServiceValidationError) as err:
        await _set(hass, 70.5)
    assert err.value.translation_key == "value_out_of_range"
    assert str(err.value) == "70.5 is not allowed: use a whole number from 50 to 100"


@pytest.mark.usefixtures("setup_credentials")
async def test_api_rejection_keeps_real_value(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    """A 400 problem becomes an error carrying the API's field errors; the real value stays."""
    await setup_integration(hass, config_entry)
    mock_api.fail(
        PATCH_URL,
        Fault(
            status=HTTPStatus.BAD_REQUEST,
            body={
                "type": "https://api.ev.energy/v2/problems/validation-failed/",
                "title": "Request failed validation.",
                "detail": "Error on fields: maximum_charge_limit_percentage",
                "status": 400,
                "field_errors": {
                    "maximum_charge_limit_percentage": ["Not allowed for this vehicle."]
                },
            },
        ),
    )

    with pytest.raises(HomeAssistantError) as err:
        await _set(hass, 90)

    assert err.value.translation_key == "api_error"
    assert "maximum_charge_limit_percentage: Not allowed for this vehicle." in str(err.value)
    assert state_of(hass, CHARGE_LIMIT).state == "80"


@pytest.mark.usefixtures("setup_credentials")
async def test_rate_limited_write(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    """A 429 on a write tells the user when to try again."""
    await setup_integration(hass, config_entry)
    mock_api.fail(
        PATCH_URL, Fault(status=HTTPStatus.TOO_MANY_REQUESTS, headers={"Retry-After": "42"})
    )
    with pytest.raises(HomeAssistantError) as err:
        await _set(hass, 90)
    assert err.value.translation_key == "rate_limited"
    assert "42 seconds" in str(err.value)


@pytest.mark.usefixtures("setup_credentials")
async def test_connection_error_on_write(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    """A network failure on a write is a translated error, not a crash."""
    await setup_integration(hass, config_entry)
    mock_api.fail(PATCH_URL, Fault(exc=TimeoutError()))
    with pytest.raises(HomeAssistantError) as err:
        await _set(hass, 90)
    assert err.value.translation_key == "cannot_connect"
    assert state_of(hass, CHARGE_LIMIT).state == "80"


@pytest.mark.usefixtures("setup_credentials")
async def test_revoked_sign_in_on_write_starts_reauth(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    aioclient_mock: AiohttpClientMocker,
) -> None:
    """A write refused with 401 whose refresh also fails asks the user to sign in again."""
    await setup_integration(hass, config_entry)
    aioclient_mock.post(TOKEN_URL, status=HTTPStatus.BAD_REQUEST, json={"error": "invalid_grant"})
    mock_api.fail(PATCH_URL, Fault(status=HTTPStatus.UNAUTHORIZED))

    with pytest.raises(HomeAssistantError) as err:
        await _set(hass, 90)
    await hass.async_block_till_done()

    assert err.value.translation_key == "auth_failed"
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]
