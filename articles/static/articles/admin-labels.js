"use strict";
// Django names each form field with its <label for>, but two widgets on the article
// form hide the element the label points at and draw their own: django-prose-editor's
// editable area, and select2's combobox and search box. Each gets the field's label
// as its accessible name, as the hidden element had it.
{
    const $ = django.jQuery;

    function labelOf(field) {
        const label = field.id && document.querySelector(`label[for="${field.id}"]`);
        if (label && !label.id) {
            label.id = `${field.id}-label`;
        }
        return label;
    }

    // The editor's documented "ready" event hands over the Tiptap editor; its
    // editorProps.attributes stay on the editable area through every redraw.
    document.addEventListener("prose-editor:ready", (event) => {
        const {editor, textarea} = event.detail;
        const label = labelOf(textarea);
        if (!label) {
            return;
        }
        const attributes = {"aria-labelledby": label.id, "aria-multiline": "true"};
        const help = textarea.getAttribute("aria-describedby");
        if (help) {
            attributes["aria-describedby"] = help;
        }
        editor.setOptions({editorProps: {...editor.options.editorProps, attributes}});
        label.addEventListener("click", () => editor.commands.focus());
    });

    function nameAutocompletes(root) {
        for (const select of root.querySelectorAll("select.admin-autocomplete")) {
            const label = labelOf(select);
            const container = select.nextElementSibling; // select2 draws it there
            if (!label || !container?.classList.contains("select2")) {
                continue;
            }
            // A single choice's combobox reads its label, then the current choice.
            const selection = container.querySelector(".select2-selection");
            const current = selection.getAttribute("aria-labelledby");
            selection.setAttribute(
                "aria-labelledby", current ? `${label.id} ${current}` : label.id
            );
            for (const part of container.querySelectorAll(
                ".select2-selection__rendered[role=textbox], .select2-search__field"
            )) {
                part.setAttribute("aria-labelledby", label.id);
            }
        }
    }

    // Run after Django's autocomplete.js has started select2, on the page and on a
    // new inline row: this file comes after it (ArticleAdmin.Media), so these
    // handlers come after its own.
    $(() => nameAutocompletes(document));
    document.addEventListener("formset:added", (event) => nameAutocompletes(event.target));

    $(document).on("select2:open", (event) => {
        const selection = event.target.nextElementSibling.querySelector(".select2-selection");
        const list = selection.getAttribute("aria-owns");
        // ARIA 1.2 links an open combobox to its list with aria-controls;
        // select2 4.0 sets only the older aria-owns.
        selection.setAttribute("aria-controls", list);
        const search = document.getElementById(list)?.closest(".select2-dropdown")
            ?.querySelector(".select2-search--dropdown .select2-search__field");
        const label = labelOf(event.target);
        if (search && label) {
            search.setAttribute("aria-labelledby", label.id);
        }
    });
    $(document).on("select2:close", (event) => {
        const selection = event.target.nextElementSibling.querySelector(".select2-selection");
        selection.removeAttribute("aria-controls");
    });
}
