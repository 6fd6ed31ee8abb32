package console

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"tenantry/internal/controldb"
	"tenantry/internal/platform"
)

// logsShown is how many of the newest lines the log page shows.
const logsShown = 100

func (k *Console) logsView(c *gin.Context) (LogsView, error) {
	ctx := c.Request.Context()
	v, err := k.P.Instance(ctx, who(c), c.Param("id"))
	if err != nil {
		return LogsView{}, err
	}
	page, err := k.P.InstanceLogs(ctx, who(c), v.ID, platform.LogQuery{Limit: logsShown})
	if err != nil {
		return LogsView{}, err
	}
	out := LogsView{InstanceID: v.ID, Host: v.Host, Shown: logsShown,
		Command: "curl -s -H \"Authorization: Bearer $TOKEN\" '$API/instances/" + v.ID + "/logs?follow=true'"}
	for _, l := range page.Lines {
		out.Lines = append(out.Lines, logRow(l))
	}
	return out, nil
}

func logRow(l controldb.LogLine) LogRow {
	r := LogRow{At: l.At.Format("2006-01-02 15:04:05.000"), Kind: l.Kind}
	if l.Kind == controldb.LogRequest {
		r.What, r.Status = l.Method+" "+l.Path, strconv.Itoa(l.Status)
		if l.DurationMS != nil {
			r.Took = fmt.Sprintf("%.1f ms", *l.DurationMS)
		}
		if l.Router != "" {
			r.What += " (router " + l.Router[:min(8, len(l.Router))] + ")"
		}
		return r
	}
	keys := make([]string, 0, len(l.Detail))
	for key := range l.Detail {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	parts := []string{l.Event}
	for _, key := range keys {
		parts = append(parts, fmt.Sprintf("%s=%v", key, l.Detail[key]))
	}
	r.What = strings.Join(parts, " ")
	return r
}

func (k *Console) logsPage(c *gin.Context) {
	v, err := k.logsView(c)
	if err != nil {
		k.fail(c, err)
		return
	}
	k.render(c, http.StatusOK, InstanceLogsPage(k.page(c, "Log of "+v.Host), v))
}

func (k *Console) logsTail(c *gin.Context) {
	v, err := k.logsView(c)
	if err != nil {
		k.fail(c, err)
		return
	}
	k.render(c, http.StatusOK, LogsTail(v))
}
