package handlers

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/marketing-platform/distribution/internal/model"
)

// Stores and their channel accounts in the JSON API (issue 14). The answers carry the accounts'
// public fields only: the credentials never leave the database except, decrypted, to the engine.

// apiStore is a store as the API shows it.
type apiStore struct {
	ID        string       `json:"id"`
	Name      string       `json:"name"`
	CreatedAt time.Time    `json:"createdAt"`
	CreatedBy string       `json:"createdBy"`
	Accounts  []apiAccount `json:"accounts"`
}

// apiAccount is the public part of a channel account.
type apiAccount struct {
	Channel     model.Channel       `json:"channel"`
	AccountRef  string              `json:"accountRef"`
	Status      model.AccountStatus `json:"status"`
	ExpiresAt   *time.Time          `json:"expiresAt"`
	LastError   string              `json:"lastError"`
	ConnectedBy string              `json:"connectedBy"`
	ConnectedAt time.Time           `json:"connectedAt"`
}

func apiStoreOf(s model.Store) apiStore {
	out := apiStore{ID: s.ID, Name: s.Name, CreatedAt: s.CreatedAt.UTC(), CreatedBy: s.CreatedBy,
		Accounts: make([]apiAccount, 0, len(s.Accounts))}
	for _, a := range s.Accounts {
		out.Accounts = append(out.Accounts, apiAccount{
			Channel: a.Channel, AccountRef: a.AccountRef, Status: a.Status, ExpiresAt: apiUTC(a.ExpiresAt),
			LastError: a.LastError, ConnectedBy: a.ConnectedBy, ConnectedAt: a.ConnectedAt.UTC(),
		})
	}
	return out
}

// apiStoreInput is the body of POST /api/v1/stores.
type apiStoreInput struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// APICreateStore serves POST /api/v1/stores → 201 with the store (managers; audited).
func (h *Handlers) APICreateStore(c echo.Context) error {
	var in apiStoreInput
	if err := decodeAPIBody(c, &in); err != nil {
		return err
	}
	s, err := h.deps.Store.CreateStore(c.Request().Context(), model.Store{ID: in.ID, Name: in.Name},
		model.AuditEntry{Actor: apiActor(c), IP: c.RealIP()})
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, APIPrefix+"/stores/"+s.ID)
	return c.JSON(http.StatusCreated, apiStoreOf(s))
}

// APIListStores serves GET /api/v1/stores → {"stores": [...]} by id, with their accounts.
func (h *Handlers) APIListStores(c echo.Context) error {
	stores, err := h.deps.Store.FindStores(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]apiStore, 0, len(stores))
	for _, s := range stores {
		out = append(out, apiStoreOf(s))
	}
	return c.JSON(http.StatusOK, map[string]any{"stores": out})
}

// APIGetStore serves GET /api/v1/stores/{id}.
func (h *Handlers) APIGetStore(c echo.Context) error {
	id := c.Param("id")
	if !model.ValidEventID(id) {
		return model.Errorf(model.EINVALID, "invalid store id: use 1 to 36 letters, digits, '_' or '-'")
	}
	s, err := h.deps.Store.FindStoreByID(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, apiStoreOf(s))
}
